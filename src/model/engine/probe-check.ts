import { seededRandom } from '../../util/random';
import type { InferenceEngine } from './inference-engine';

/** How far a converted model's outputs may be from TF.js's on the same input. */
export const MAX_OUTPUT_DIFFERENCE = 1e-4;

/** probeInputs for a model: as many values as its input holds, in its input's range. */
export function probesFor(model: { inputShape: readonly number[]; metadata: { preprocess: { range: readonly [number, number] } } }, count = 3): Float32Array[] {
  return probeInputs(model.inputShape.reduce((a, b) => a * b, 1), model.metadata.preprocess.range, count);
}

/**
 * The inputs every load checks a converted model on: a few seeded random images with values
 * inside the model's input range (the same every load, so a result can be reproduced), and the
 * blank image the classifier warms up with.
 */
export function probeInputs(elements: number, range: readonly [number, number], count = 3): Float32Array[] {
  const random = seededRandom(14);
  const [lo, hi] = range;
  const probes: Float32Array[] = [];
  for (let p = 0; p < count; p++) {
    const x = new Float32Array(elements);
    for (let i = 0; i < elements; i++) x[i] = lo + (hi - lo) * random();
    probes.push(x);
  }
  probes.push(new Float32Array(elements));
  return probes;
}

/**
 * The largest absolute difference between the reference's and the candidate's outputs over the
 * probes, each run alone and then all in one batch on the candidate (so batching is checked too).
 */
export async function maxOutputDifference(reference: InferenceEngine, candidate: InferenceEngine, probes: readonly Float32Array[]): Promise<number> {
  return maxDifferenceFrom(
    probes.map((probe) => reference.run(probe, 1).slice()),
    candidate,
    probes,
  );
}

/** maxOutputDifference against outputs the reference gave elsewhere (in another process), one per probe. */
export async function maxDifferenceFrom(expected: readonly Float32Array[], candidate: InferenceEngine, probes: readonly Float32Array[]): Promise<number> {
  if (expected.length !== probes.length) return Infinity;
  let max = 0;
  for (let i = 0; i < probes.length; i++) max = Math.max(max, largestDifference(expected[i], await candidate.runAsync(probes[i], 1)));
  const batch = new Float32Array(probes.reduce((n, p) => n + p.length, 0));
  probes.forEach((p, i) => batch.set(p, i * p.length));
  const got = await candidate.runAsync(batch, probes.length);
  expected.forEach((want, i) => (max = Math.max(max, largestDifference(want, got.subarray(i * want.length, (i + 1) * want.length)))));
  return max;
}

/** The largest absolute difference between two outputs; a length mismatch or NaN is Infinity. */
export function largestDifference(a: Float32Array, b: Float32Array): number {
  // A length mismatch or NaN must fail the check, not pass it.
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** Median ms of `runs` inferences of one input after one untimed run, as the pipeline calls it (async). */
export async function timeEngine(engine: InferenceEngine, input: Float32Array, runs = 5): Promise<number> {
  await engine.runAsync(input, 1);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await engine.runAsync(input, 1);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
