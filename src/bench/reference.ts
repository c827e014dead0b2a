import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

/** What bench/reference/loop.py reports for one run (its RESULT line). */
export interface ReferenceResult {
  fps: number;
  frames: number;
  seconds: number;
  cpuMsPerFrame: number;
  /** Per-stage mean ms: read, preprocess, infer, overlay, encode. */
  stagesMs: Record<string, number>;
  /** Largest difference of the torch network's outputs from TF.js's on the probe inputs. */
  maxDifference: number;
  /** Largest difference of the loop's input values from edgesight's for the clip's first frame. */
  preprocessDifference: number | null;
  torchDefaultThreads: number;
  torchThreads: number;
  cvThreads: number;
  cores: number;
  torch: string;
  opencv: string;
}

/** torch's own default thread count, or one thread per core of the taskset (docs/benchmarks.md, "Threads"). */
export type ReferenceThreads = 'default' | 'cores';

export const REFERENCE_PYTHON = '/usr/bin/python3';

/**
 * Why the reference loop cannot run here, or undefined when it can: it needs Debian's Python
 * with python3-opencv and python3-torch.
 */
export async function referenceUnavailable(script: string): Promise<string | undefined> {
  if (!fs.existsSync(script)) return `reference loop ${script} not found (pass --reference FILE)`;
  if (!fs.existsSync(REFERENCE_PYTHON)) return `${REFERENCE_PYTHON} not found`;
  const probe = await run(REFERENCE_PYTHON, ['-c', 'import cv2, torch, numpy']);
  if (probe.code !== 0) return `${REFERENCE_PYTHON} cannot import cv2, torch and numpy; install them with: sudo apt-get install python3-opencv python3-torch (or scripts/setup.sh --bench)`;
  return undefined;
}

export interface ReferenceOptions {
  /** bench/reference/loop.py */
  script: string;
  /** A directory written by exportReferenceModel. */
  exportDir: string;
  clip: string;
  /** taskset CPU list, e.g. "0" or "0-1". */
  cpus: string;
  seconds: number;
  warmupSeconds: number;
  threads: ReferenceThreads;
  /** edgesight's input values for the clip's first frame (float32), to compare preprocessing. */
  frameProbe?: string;
  /** Only check the network against TF.js's probe outputs, no timing. */
  checkOnly?: boolean;
}

/**
 * Runs the reference loop pinned with taskset. Rejects when it fails, including when its
 * network's outputs differ from TF.js's by more than 1e-4 (the loop refuses to time then).
 */
export async function runReference(o: ReferenceOptions): Promise<ReferenceResult> {
  const args = ['-c', o.cpus, REFERENCE_PYTHON, o.script, o.exportDir, o.clip, '--seconds', String(o.seconds), '--warmup', String(o.warmupSeconds), '--threads', o.threads];
  if (o.frameProbe) args.push('--frame-probe', o.frameProbe);
  if (o.checkOnly) args.push('--check-only');
  const { code, stdout, stderr } = await run('taskset', args);
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  let result: (ReferenceResult & { error?: string }) | undefined;
  try {
    result = line ? JSON.parse(line.slice('RESULT '.length)) : undefined;
  } catch {
    result = undefined;
  }
  if (code !== 0 || !result || result.error) {
    const why = result?.error ?? (stderr.trim().split('\n').slice(-3).join(' | ') || stdout.trim());
    throw new Error(`reference loop failed (exit ${code}): ${why}`);
  }
  return { ...result, preprocessDifference: result.preprocessDifference ?? null };
}

/** The 1-minute load average: every run records it at its start and end (docs/benchmarks.md, "Machine and load"). */
export function loadAverage(): number {
  return os.loadavg()[0];
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: err.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
