import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelPackageError } from '../util/errors';
import type { BackendPreference } from '../config/backend-preference';
import type { CandidateCheckAnswer, CandidateCheckRequest } from './candidate-check-process';
import { howItEnded, runOnceInChild } from './run-once-in-child';

export interface CandidateCheckLimits {
  /** The check process is ended when its resident memory passes this. */
  maxRssBytes: number;
  /** ... or when it has not answered in this long (a self-test of 200 images on a Pi included). */
  timeoutMs: number;
}

/**
 * A node process with TF.js WASM and OpenCV loaded sits at about 150 MB here; a candidate may
 * add its weights a few times over (file, tensors, WASM heap). Past that, building it is not
 * what its weights say it is.
 */
export function defaultCheckLimits(weightBytes: number): CandidateCheckLimits {
  return { maxRssBytes: 320 * 1048576 + 4 * weightBytes, timeoutMs: 180_000 };
}

const MEMORY_POLL_MS = 50;

/**
 * Builds, warms up and self-tests the package in `dir` in a child process, and throws a
 * ModelPackageError saying why when it fails there. The daemon's own TF.js heap never sees a
 * candidate before it has passed: TF.js leaks tensors when it cannot build a model, and a
 * topology that does not match its weights can fill the WASM heap until every later inference
 * fails. A child that grows past its memory limit or its time is killed, and the package refused.
 */
export async function checkCandidateInChild(dir: string, backend: BackendPreference, limits: CandidateCheckLimits): Promise<{ labels: number; selfTested: number }> {
  const modelFile = path.join(dir, 'model.json');
  const request: CandidateCheckRequest = { dir, backend };
  // The compiled .js beside this file.
  const outcome = await runOnceInChild<CandidateCheckAnswer>(path.join(__dirname, 'candidate-check-process.js'), request, {
    timeoutMs: limits.timeoutMs,
    timeoutReason: `did not finish its check within ${limits.timeoutMs / 1000} s`,
    serialization: 'json',
    watch: (child, kill) => {
      lowerPriority(child.pid);
      const memoryWatch = setInterval(() => {
        const rss = rssOf(child.pid);
        if (rss !== undefined && rss > limits.maxRssBytes) {
          kill(`building it took more than ${Math.round(limits.maxRssBytes / 1048576)} MB (its topology asks for far more memory than its weights hold)`);
        }
      }, MEMORY_POLL_MS);
      return () => clearInterval(memoryWatch);
    },
  });
  if ('answer' in outcome) {
    const { answer } = outcome;
    if (answer.ok) return { labels: answer.labels, selfTested: answer.selfTested };
    throw new ModelPackageError(answer.file ?? modelFile, answer.problem);
  }
  if ('killedFor' in outcome) throw new ModelPackageError(modelFile, outcome.cause === 'error' ? `its check process ${outcome.killedFor}` : outcome.killedFor);
  const { ended } = outcome;
  const outsideKill = ended.signal === 'SIGKILL' ? ', killed from outside: most likely by the kernel at the memory limit' : '';
  throw new ModelPackageError(modelFile, `its check process ended without an answer (${howItEnded(ended)}${outsideKill})${ended.stderr ? `: ${ended.stderr}` : ''}`);
}

/**
 * The live stream comes first on a device with few cores; and the child shares the service's
 * cgroup: should the two pass its memory limit, the kernel's OOM killer is to take the candidate,
 * not the daemon serving the stream.
 */
function lowerPriority(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    os.setPriority(pid, 19);
  } catch {
    // not allowed here: the check only runs slower against the stream
  }
  try {
    fs.writeFileSync(`/proc/${pid}/oom_score_adj`, '1000');
  } catch {
    // no /proc (not Linux): the memory budget checked before the child was started
  }
}

/**
 * Resident memory of a process from /proc (Linux); undefined elsewhere or once it has gone.
 * VmRSS is in kB whatever the page size (a Pi 5 kernel uses 16 kB pages, so statm's page
 * counts would need the size).
 */
function rssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
