import type { DatasetNotice, DatasetView } from '../dataset/types';
import type { EventMessage } from '../events/model';
import type { EventsAccess, IntegrationsStatus } from '../events/views';
import type { FrameResult, PipelineEvents } from '../pipeline/pipeline';
import type { RuntimeSettings } from '../pipeline/runtime-settings';
import type { PipelineStats } from '../pipeline/stats';
import type { TypedEmitter } from '../util/typed-emitter';
import type { LiveFeed } from './viewer-hub';
import type { PoolStatus } from '../model/pool/inference-pool';

/** Daemon-level events beside the pipeline's: the model changed, or a new one was refused. */
export interface DaemonEvents extends Record<string, unknown> {
  model: ModelInfo;
  modelRejected: { origin: string; error: string };
  /** The dataset changed: a sample kept, a capture started or ended, capture stopped for space. */
  dataset: DatasetNotice;
  /** An event started or ended (saved first). */
  event: EventMessage;
  /** Settings changed from elsewhere than PATCH /api/settings (an MQTT command). */
  settings: RuntimeSettings;
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
  /** metadata.json's `training`: what the trainer recorded (metrics, dataset counts, history); null when it recorded nothing. */
  training: Record<string, unknown> | null;
  /** metadata.json's other fields that edgesight does not read (a Teachable Machine export's tmVersion, a user's notes), as they are. */
  otherMetadata: Record<string, unknown>;
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
  /** Frames classified recently enough for the source's pace (pipeline/liveness.ts): /healthz and the watchdog ask the same. */
  framesFlowing(): boolean;
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
  /** The event history; absent when events are off. */
  readonly eventLog?: EventsAccess;
  /** Events, MQTT and webhooks at a glance; absent when the daemon has none. */
  integrations?(): IntegrationsStatus;
  /** The inference workers (pipeline.workers), absent when the setting gives every model one. */
  pool?(): PoolStatus;
}
