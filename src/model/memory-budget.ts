import * as path from 'node:path';
import type { BackendPreference } from '../config/backend-preference';
import { MODEL_JSON } from './package-io';
import { checkPackageShape, packageLayoutOf } from './package-layout';
import { ModelPackageError } from '../util/errors';
import { readMemoryLimit, type MemoryLimit } from '../util/memory-limit';

const MB = 1048576;

/** Memory a load needs on top of what the daemon holds now: `base` plus `perWeightByte` times the weights. */
export interface LoadCost {
  base: number;
  perWeightByte: number;
}

/**
 * Measured with `npm run measure:swap-memory` (the real daemon in a memory cgroup of its own,
 * RSS of it and of its children sampled every 25 ms; packages of 2, 66 and 162 MB of weights),
 * fitted through the smallest and the largest and checked against the middle one, which they
 * overestimate (see docs/memory.md for the numbers).
 *
 * Hot-swap: the peak of daemon + check child RSS over the daemon's RSS just before.
 * - TF.js only (wasm, cpu, tfjs-node): the check child (a fresh node with TF.js and OpenCV, about
 *   110 MB) grows by about four times the weights (the file, the weights parsed, the initial
 *   values TF.js gives every variable before the real ones replace them, the WASM heap that
 *   holds both and never shrinks); the load in the daemon then costs about as much again, but
 *   after the child has gone.
 * - auto and opencv: fitted when the daemon itself loaded the model into TF.js, converted it and
 *   ran both engines side by side: about 8.5 times the weights. Since then a conversion process
 *   does that (src/model/engine/conversion-process.ts) and the daemon holds only OpenCV's copy;
 *   the figures were kept and now overestimate, by 100-260 MB for 66-162 MB of weights
 *   (docs/memory.md), which errs on the side of refusing. Refitting needs its own measurements.
 * Start-up: the same load without the check child and without a model serving beside it.
 */
export const SWAP_COST: Record<'tfjs' | 'opencv', LoadCost> = {
  tfjs: { base: 104 * MB, perWeightByte: 3.9 },
  opencv: { base: 94 * MB, perWeightByte: 8.55 },
};
/** Over the daemon's RSS when the model is about to load at start (about 170 MB: TF.js, OpenCV, the server). */
export const START_COST: Record<'tfjs' | 'opencv', LoadCost> = {
  tfjs: { base: 60 * MB, perWeightByte: 3.7 },
  opencv: { base: 76 * MB, perWeightByte: 8.5 },
};

/**
 * Kept free under the limit: frames in flight, JPEGs for viewers and the socket buffers vary
 * by some tens of MB with the number of viewers (the estimate was measured with none), and the
 * systemd notify relay (python3, about 10 MB) lives in the same cgroup.
 */
export const HEADROOM_BYTES = 64 * MB;

export interface MemoryBudgetOptions {
  /** The limit now (read at every check: `systemctl set-property` can change it while running). */
  limit?: () => MemoryLimit | undefined;
  /** The daemon's resident memory now. */
  rss?: () => number;
  /** Whether systemd runs this process (the advice then names `systemctl edit`). */
  underSystemd?: boolean;
}

/**
 * Refuses a model whose loading would take the process past its cgroup's memory limit, with the
 * numbers, before anything is loaded: past the limit the kernel kills the whole daemon, and the
 * serving model with it, where a refusal leaves it serving.
 */
export class MemoryBudget {
  private readonly limit: () => MemoryLimit | undefined;
  private readonly rss: () => number;
  private readonly underSystemd: boolean;

  constructor(private readonly preference: BackendPreference, options: MemoryBudgetOptions = {}) {
    this.limit = options.limit ?? (() => readMemoryLimit());
    this.rss = options.rss ?? (() => process.memoryUsage.rss());
    this.underSystemd = options.underSystemd ?? process.env.INVOCATION_ID !== undefined;
  }

  /** What may still be taken now under the limit, headroom kept (undefined: no limit). */
  room(): number | undefined {
    const limit = this.limit();
    return limit && limit.bytes - HEADROOM_BYTES - this.rss();
  }

  /** The estimated peak of a hot-swap to a model of `weightBytes` beside the one serving now. */
  swapPeak(weightBytes: number, rssNow = this.rss()): number {
    return peak(SWAP_COST[costKind(this.preference)], weightBytes, rssNow);
  }

  /**
   * What a model of `weightBytes` needs, for a report: the daemon's peak when it starts with it,
   * and what a hot-swap to it adds at its peak to the daemon's memory of that moment.
   */
  estimates(weightBytes: number): { startPeak: number; swapOverRss: number } {
    const kind = costKind(this.preference);
    return { startPeak: peak(START_COST[kind], weightBytes, STARTUP_RSS), swapOverRss: peak(SWAP_COST[kind], weightBytes, 0) };
  }

  /**
   * Throws a ModelPackageError naming `modelPath`'s model file when a hot-swap to it would not
   * fit (the inference workers' copies are not counted: they are taken only if they fit, see
   * room() and planWorkers).
   */
  checkSwap(modelPath: string, weightBytes: number): void {
    const limit = this.limit();
    if (!limit) return;
    const rssNow = this.rss();
    const need = this.swapPeak(weightBytes, rssNow);
    if (need <= limit.bytes - HEADROOM_BYTES) return;
    const startNeed = peak(START_COST[costKind(this.preference)], weightBytes, 0);
    const atStart = startNeed <= limit.bytes - HEADROOM_BYTES ? `; or serve it from the start as model.path (about ${mb(startNeed + STARTUP_RSS)} MB at start-up)` : '';
    throw new ModelPackageError(
      modelFileOf(modelPath),
      `weights of ${mb(weightBytes)} MB need about ${mb(need)} MB at the swap's peak beside the running model (now ${mb(rssNow)} MB), ` +
        `over ${this.limitName(limit)} of ${mb(limit.bytes)} MB less ${mb(HEADROOM_BYTES)} MB of headroom; ${this.raiseAdvice(need)}${atStart}${this.wasmAdvice(weightBytes, rssNow, limit)}`,
    );
  }

  /**
   * At start (nothing serving yet): throws when loading the model at `modelPath` would pass the
   * limit. A package whose size cannot be read passes: loading it says what is wrong.
   */
  checkStart(modelPath: string): void {
    const limit = this.limit();
    if (!limit) return;
    let weightBytes: number;
    try {
      weightBytes = checkPackageShape(modelPath).weightBytes;
    } catch {
      return;
    }
    const rssNow = this.rss();
    const need = peak(START_COST[costKind(this.preference)], weightBytes, rssNow);
    if (fitsAtStart(need, limit.bytes)) return;
    throw new ModelPackageError(
      modelFileOf(modelPath),
      `weights of ${mb(weightBytes)} MB need about ${mb(need)} MB to load (the daemon holds ${mb(rssNow)} MB before it), over ${this.limitName(limit)} of ${mb(limit.bytes)} MB; ${this.raiseAdvice(need)}`,
    );
  }

  private limitName(limit: MemoryLimit): string {
    const where = limit.version === 'cgroup v2' ? 'memory.max' : 'memory.limit_in_bytes';
    return this.underSystemd ? `the service's memory limit (MemoryMax, ${limit.file})` : `this process's memory limit (${where} in ${path.dirname(limit.file)})`;
  }

  private raiseAdvice(need: number): string {
    const suggested = Math.ceil((need + HEADROOM_BYTES) / (256 * MB)) * 256;
    return this.underSystemd
      ? `raise it with \`sudo systemctl edit edgesight\` ([Service] MemoryMax=${suggested}M) and restart`
      : `raise the limit to ${suggested} MB or more`;
  }

  /** With OpenCV in the running (auto, opencv), a TF.js-only load needs half: say so when that would fit. */
  private wasmAdvice(weightBytes: number, rssNow: number, limit: MemoryLimit): string {
    if (costKind(this.preference) !== 'opencv') return '';
    const tfjsNeed = peak(SWAP_COST.tfjs, weightBytes, rssNow);
    return tfjsNeed <= limit.bytes - HEADROOM_BYTES ? `; or set model.backend=wasm (no OpenCV DNN comparison at load), which needs about ${mb(tfjsNeed)} MB` : '';
  }
}

/** The daemon's RSS before its model is loaded (TF.js, OpenCV and the server up): for advice only. */
const STARTUP_RSS = 170 * MB;

/**
 * The start-up rule, for checkStart and doctor's report alike. No headroom here: nothing serves
 * yet, and refusing a model that would have fitted keeps the device from starting at all.
 */
export function fitsAtStart(startPeakBytes: number, limitBytes: number): boolean {
  return startPeakBytes <= limitBytes;
}

function costKind(preference: BackendPreference): 'tfjs' | 'opencv' {
  return preference === 'auto' || preference === 'opencv' ? 'opencv' : 'tfjs';
}

function peak(cost: LoadCost, weightBytes: number, rssNow: number): number {
  return rssNow + cost.base + cost.perWeightByte * weightBytes;
}

/** The file a user would look at: model.json of a TF.js package, the Keras file itself. */
function modelFileOf(modelPath: string): string {
  const layout = packageLayoutOf(modelPath);
  return layout?.kind === 'keras' ? layout.file : path.join(modelPath, MODEL_JSON);
}

function mb(bytes: number): string {
  return String(Math.round(bytes / MB));
}
