import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { directorySaveHandler, METADATA_JSON } from '../../src/model/package-io';
import { loadMnistSplit } from '../../src/demo/mnist-digits';
import { cv, matFromPixels } from '../../src/vision/cv';
export { writePaperDigitClip } from '../../src/bench/clip';

export const projectRoot = path.resolve(__dirname, '..', '..', '..');
export const cliPath = path.join(projectRoot, 'bin', 'edgesight');
export const defaultModelDir = path.join(projectRoot, 'models', 'default');

export function tempDir(prefix = 'edgesight-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Runs the real CLI as a user would, with a clean environment apart from PATH and HOME. No
 * configuration file is searched for (EDGESIGHT_CONFIG_SEARCH is empty): a test must never read
 * this machine's /etc/edgesight/config.json or the service's state directory.
 */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 240_000) {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', EDGESIGHT_CONFIG_SEARCH: '', ...env },
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * runCli without blocking this process: for commands that talk to a daemon running inside the
 * test process (spawnSync would freeze the daemon's event loop and deadlock).
 */
export function runCliAsync(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', EDGESIGHT_CONFIG_SEARCH: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Writes validation-split digits as 28x28 PNGs (light on dark, as MNIST stores them). */
export function writeMnistPngs(dir: string, perClass: number): Array<{ file: string; label: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const out: Array<{ file: string; label: string }> = [];
  loadMnistSplit().validation.forEach((images, label) => {
    images.slice(0, perClass).forEach((image, i) => {
      const file = path.join(dir, `${label}-${i}.png`);
      cv.imwrite(file, matFromPixels(image, 28, 28));
      out.push({ file, label: String(label) });
    });
  });
  return out;
}

/**
 * Saves a small real TF.js layers model as a package. `inputShape` and `units` let tests make
 * packages that are wrong in one way; the metadata can be overridden field by field.
 */
export async function writeTinyPackage(dir: string, options: { inputShape?: number[]; units?: number; labels?: string[]; metadata?: Record<string, unknown> } = {}): Promise<void> {
  const inputShape = options.inputShape ?? [8, 8, 1];
  const units = options.units ?? 3;
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape }));
  model.add(tf.layers.dense({ units, activation: units === 1 ? 'sigmoid' : 'softmax', kernelInitializer: 'glorotUniform' }));
  await model.save(directorySaveHandler(dir));
  model.dispose();
  const labels = options.labels ?? Array.from({ length: units === 1 ? 2 : units }, (_, i) => `class ${i}`);
  fs.writeFileSync(path.join(dir, METADATA_JSON), JSON.stringify({ name: 'tiny', labels, ...options.metadata }));
}

/** A real 2019 Teachable Machine image export with its 22 sample images ("Class 1", "Class 2"). */
export const teachableMachineFixture = path.join(projectRoot, 'test', 'fixtures', 'teachable-machine-2019');
