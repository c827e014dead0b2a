import * as tf from '@tensorflow/tfjs';
import type { DatasetView } from '../dataset/types';
import type { Classifier } from '../model/classifier';
import type { PoolStatus } from '../model/pool/inference-pool';
import { framesFlowing } from '../pipeline/liveness';
import type { Pipeline } from '../pipeline/pipeline';
import { RuntimeSettingsControl } from '../pipeline/runtime-settings';
import type { EventsAccess, IntegrationsStatus } from '../events/views';
import type { DaemonEvents, DaemonView, ModelInfo, SourceStatus } from '../server/daemon-view';
import type { Logger } from '../util/logger';
import type { TypedEmitter } from '../util/typed-emitter';

export interface ViewParts {
  pipeline: Pipeline;
  events: TypedEmitter<DaemonEvents>;
  backend: string;
  initialSource: string;
  /** The source's own frame rate when it paces itself (images, a file played in real time). */
  paceFps(): number | undefined;
  installModel(dir: string, origin: string): Promise<ModelInfo>;
  rollbackModel(): Promise<ModelInfo>;
  uploadRoot: string;
  dataset: DatasetView;
  eventLog?: EventsAccess;
  integrations?(): IntegrationsStatus;
  pool?(): PoolStatus;
  log: Logger;
}

/** The model as clients see it. */
export function modelInfo(classifier: Classifier): ModelInfo {
  const loaded = classifier.loaded;
  const meta = loaded.metadata;
  const [height, width, channels] = loaded.inputShape;
  return {
    name: meta.name,
    version: meta.version,
    dir: loaded.dir,
    format: loaded.format,
    labels: [...meta.labels],
    input: { width, height, channels },
    parameters: loaded.parameters,
    conventions: meta.conventions,
    preprocess: meta.preprocess,
    engine: classifier.engineSummary,
    training: trainingReport(meta.extra),
    otherMetadata: Object.fromEntries(Object.entries(meta.extra).filter(([key]) => key !== 'training')),
  };
}

function trainingReport(extra: Record<string, unknown>): Record<string, unknown> | null {
  const report = extra.training;
  return typeof report === 'object' && report !== null && !Array.isArray(report) ? (report as Record<string, unknown>) : null;
}

/** Builds the narrow DaemonView the dashboard server reads and controls, over the running pipeline. */
export function createDaemonView(parts: ViewParts): DaemonView {
  const { pipeline, log } = parts;
  const settings = new RuntimeSettingsControl(pipeline);
  let sourceStatus: SourceStatus = { description: parts.initialSource, state: 'open' };
  pipeline.events.on('source', (s) => (sourceStatus = s));
  let model = modelInfo(pipeline.classifier);
  parts.events.on('model', (info) => (model = info));
  return {
    feed: pipeline,
    stats: pipeline.stats,
    events: parts.events,
    startedAt: Date.now(),
    latest: () => pipeline.latest,
    framesFlowing: () => framesFlowing(pipeline.latest?.decidedAt, parts.paceFps()),
    source: () => sourceStatus,
    model: () => model,
    backend: () => parts.backend,
    settings: () => settings.current(),
    applySettings: (patch) => {
      const now = settings.apply(patch);
      log.info({ settings: patch }, 'settings changed');
      return now;
    },
    tensors: () => tf.memory().numTensors,
    installModel: parts.installModel,
    rollbackModel: parts.rollbackModel,
    uploadRoot: parts.uploadRoot,
    dataset: parts.dataset,
    eventLog: parts.eventLog,
    integrations: parts.integrations,
    pool: parts.pool,
  };
}
