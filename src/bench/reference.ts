import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

export type ReferenceKind = 'digits' | 'rgb150';

export interface ReferenceResult {
  fps: number;
  frames: number;
  /** Per-stage mean ms as the reference prints them (read, pre, infer, overlay, encode). */
  stagesMs: Record<string, number>;
}

export const REFERENCE_PYTHON = '/usr/bin/python3';

/**
 * Why the reference loop cannot run here, or undefined when it can: it needs Debian's Python
 * with python3-opencv and python3-torch.
 */
export async function referenceUnavailable(script: string): Promise<string | undefined> {
  if (!fs.existsSync(script)) return `reference loop ${script} not found (pass --reference FILE)`;
  if (!fs.existsSync(REFERENCE_PYTHON)) return `${REFERENCE_PYTHON} not found`;
  const probe = await run(REFERENCE_PYTHON, ['-c', 'import cv2, torch'], undefined);
  if (probe.code !== 0) return `${REFERENCE_PYTHON} cannot import cv2 and torch; install them with: sudo apt-get install python3-opencv python3-torch (or scripts/setup.sh --bench)`;
  return undefined;
}

/** Runs the seed's loop in Python on `clip`, pinned with taskset to `cpus` (e.g. "0" or "0-1"). */
export async function runReference(script: string, clip: string, kind: ReferenceKind, maxFrames: number, cpus: string): Promise<ReferenceResult> {
  const { code, stdout, stderr } = await run('taskset', ['-c', cpus, REFERENCE_PYTHON, script, clip, kind, String(maxFrames)], undefined);
  const fps = /frames=(\d+) fps=([\d.]+)/.exec(stdout);
  if (code !== 0 || !fps) throw new Error(`reference loop failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ') || stdout.trim()}`);
  const stagesMs: Record<string, number> = {};
  for (const m of stdout.matchAll(/(\w+)=([\d.]+)ms/g)) stagesMs[m[1]] = Number(m[2]);
  return { fps: Number(fps[2]), frames: Number(fps[1]), stagesMs };
}

function run(command: string, args: string[], cwd: string | undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: err.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
