import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelPackageError } from '../util/errors';
import type { BackendPreference } from '../config/backend-preference';
import type { CandidateCheckAnswer, CandidateCheckRequest } from './candidate-check-process';

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
export function checkCandidateInChild(dir: string, backend: BackendPreference, limits: CandidateCheckLimits): Promise<{ labels: number; selfTested: number }> {
  const modelFile = path.join(dir, 'model.json');
  return new Promise((resolve, reject) => {
    // The compiled .js beside this file; execArgv is cleared so that a debugger or a test
    // runner's flags on the daemon are not inherited.
    const child = fork(path.join(__dirname, 'candidate-check-process.js'), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [], serialization: 'json' });
    let answer: CandidateCheckAnswer | undefined;
    let killedFor: string | undefined;
    let stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
    });
    const kill = (reason: string) => {
      killedFor ??= reason;
      child.kill('SIGKILL');
    };
    const deadline = setTimeout(() => kill(`did not finish its check within ${limits.timeoutMs / 1000} s`), limits.timeoutMs);
    const memoryWatch = setInterval(() => {
      const rss = rssOf(child.pid);
      if (rss !== undefined && rss > limits.maxRssBytes) {
        kill(`building it took more than ${Math.round(limits.maxRssBytes / 1048576)} MB (its topology asks for far more memory than its weights hold)`);
      }
    }, MEMORY_POLL_MS);
    if (child.pid !== undefined) {
      try {
        // The live stream comes first on a device with few cores.
        os.setPriority(child.pid, 19);
      } catch {
        // not allowed here: the check only runs slower against the stream
      }
      try {
        // The child shares the service's cgroup: should the two pass its memory limit, the
        // kernel's OOM killer is to take the candidate, not the daemon serving the stream.
        fs.writeFileSync(`/proc/${child.pid}/oom_score_adj`, '1000');
      } catch {
        // no /proc (not Linux): the memory budget checked before the child was started
      }
    }
    child.once('message', (message) => {
      answer = message as CandidateCheckAnswer;
    });
    child.once('error', (err) => kill(`could not run its check: ${err.message}`));
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      clearInterval(memoryWatch);
      if (answer?.ok) return resolve({ labels: answer.labels, selfTested: answer.selfTested });
      if (answer) return reject(new ModelPackageError(answer.file ?? modelFile, answer.problem));
      const outsideKill = signal === 'SIGKILL' ? ', killed from outside: most likely by the kernel at the memory limit' : '';
      const why = killedFor ?? `its check process ended without an answer (${signal ? `signal ${signal}` : `exit code ${code}`}${outsideKill})${lastLine(stderrTail)}`;
      reject(new ModelPackageError(modelFile, why));
    });
    const request: CandidateCheckRequest = { dir, backend };
    child.send(request);
  });
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

function lastLine(text: string): string {
  const line = text.trim().split('\n').pop()?.trim();
  return line ? `: ${line.slice(0, 300)}` : '';
}
