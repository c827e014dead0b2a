import type { DatasetNotice, DatasetView } from '../dataset/types';
import type { FrameResult, PipelineEvents } from '../pipeline/pipeline';
import type { RuntimeSettings } from '../pipeline/runtime-settings';
import type { PipelineStats } from '../pipeline/stats';
import type { TypedEmitter } from '../util/typed-emitter';
import type { LiveFeed } from './viewer-hub';

/** Daemon-level events beside the pipeline's: the model changed, or a new one was refused. */
export interface DaemonEvents extends Record<string, unknown> {
  model: ModelInfo;
  modelRejected: { origin: string; error: string };
  /** The dataset changed: a sample kept, a capture started or ended, capture stopped for space. */
  dataset: DatasetNotice;
}

/** The source as clients see it: the pipeline's `source` event payload (state, attempt while reconnecting). */
export type SourceStatus = PipelineEvents['source'];

/** The model as clients see it: what it recognises and how it reads frames, no file contents. */
export interface ModelInfo {
  name: string;
  version: string;
  dir: string;
  format: string;
  labels: string[];
  input: { width: number; height: number; channels: number };
  parameters: number;
  conventions: string;
  preprocess: unknown;
  /** What runs it, and why: `opencv (...)` or `tfjs (...)` (see model/engine/select-engine.ts). */
  engine: string;
  /** What the trainer recorded (metrics, dataset counts, history), when it did. */
  training: Record<string, unknown>;
}

/**
 * Everything the server reads from, or changes in, the running daemon. The daemon controller
 * implements it over the pipeline; the server never touches capture, OpenCV or TF.js itself.
 */
export interface DaemonView {
  readonly feed: LiveFeed;
  readonly events: TypedEmitter<DaemonEvents>;
  readonly stats: PipelineStats;
  readonly startedAt: number;
  latest(): FrameResult | undefined;
  source(): SourceStatus;
  model(): ModelInfo;
  backend(): string;
  settings(): RuntimeSettings;
  /** Applies a checked change and returns the settings in force. */
  applySettings(patch: Partial<RuntimeSettings>): RuntimeSettings;
  /** Live tensor count (flat on a healthy daemon). */
  tensors(): number;
  /** Checks and swaps in the package in `dir`; rejects (naming the problem) and keeps the old one on failure. */
  installModel(dir: string, origin: string): Promise<ModelInfo>;
  /** Serves the previous package again. */
  rollbackModel(): Promise<ModelInfo>;
  /** Where uploads are staged before they are checked (inside the state directory). */
  readonly uploadRoot: string;
  /** Samples kept from the live source (capture, hard examples), their index and export. */
  readonly dataset: DatasetView;
}
