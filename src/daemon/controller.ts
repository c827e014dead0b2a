import * as tf from '@tensorflow/tfjs';
import type { Config } from '../config/schema';
import { openSource } from '../capture/select-source';
import type { FrameSource } from '../capture/frame-source';
import type { BackendChoice } from '../model/backend';
import type { Classifier } from '../model/classifier';
import { openClassifier } from '../model/open-model';
import { decisionSettings, DecisionMaker } from '../pipeline/decision';
import { Pipeline } from '../pipeline/pipeline';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { formatReport, gatherReport } from './doctor';

/**
 * Owns the daemon's lifecycle: builds each part with what it depends on, starts them in order
 * (model first, so a bad model fails before the camera is taken; then the source; then the
 * pipeline) and stops them in reverse. Constructors do no I/O; start() does.
 */
export class DaemonController {
  pipeline: Pipeline | undefined;
  backend: BackendChoice | undefined;
  private classifier: Classifier | undefined;
  private source: FrameSource | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly config: Config, private readonly log: Logger) {}

  async start(): Promise<Pipeline> {
    const { config, log } = this;
    // The model is checked by loading it below; the report covers the machine.
    const report = await gatherReport(config, { checkModel: false });
    for (const line of formatReport(report).split('\n')) log.info(`doctor: ${line}`);

    const { classifier, backend } = await openClassifier(config, log.child({ component: 'model' }));
    this.classifier = classifier;
    this.backend = backend;
    const meta = classifier.loaded.metadata;
    log.info({ backend: backend.name, model: classifier.loaded.dir, labels: meta.labels.length }, `model ${meta.name} loaded on TF.js backend ${backend.name}`);

    this.source = await openSource(config, log.child({ component: 'capture' }));
    log.info({ source: this.source.description }, `source: ${this.source.description}`);

    const decisions = new DecisionMaker(meta.labels, decisionSettings(config));
    const pipeline = new Pipeline({
      source: this.source,
      classifier,
      decisions,
      log: log.child({ component: 'pipeline' }),
      overlay: config['overlay.enabled'],
      jpegQuality: config['stream.jpegQuality'],
      maxFps: config['pipeline.maxFps'],
    });
    this.pipeline = pipeline;
    pipeline.events.on('listenerError', ({ event, error }) => log.error({ event, err: errorMessage(error) }, 'an event listener failed'));
    pipeline.start().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'pipeline stopped with an error'));
    this.startReports(pipeline);
    return pipeline;
  }

  /** Logs throughput and the current decision every pipeline.reportEverySeconds. */
  private startReports(pipeline: Pipeline): void {
    const every = this.config['pipeline.reportEverySeconds'];
    if (every <= 0) return;
    this.reportTimer = setInterval(() => {
      const s = pipeline.stats.snapshot();
      const latest = pipeline.latest;
      this.log.info(
        {
          fps: round(s.fps),
          captured: s.captured,
          classified: s.classified,
          dropped: s.dropped,
          ms: Object.fromEntries(Object.entries(s.stageMs).map(([k, v]) => [k, round(v)])),
          latencyMs: round(s.latencyMs),
          label: latest?.decision.label,
          confidence: latest ? round(latest.decision.confidence) : undefined,
          truth: latest?.truth,
          // Both must stay flat on a device left running for months.
          tensors: tf.memory().numTensors,
          rssMB: Math.round(process.memoryUsage.rss() / 1048576),
        },
        latest ? `${round(s.fps)} fps, now: ${latest.decision.label} ${Math.round(latest.decision.confidence * 100)}%` : 'waiting for the first frame',
      );
    }, every * 1000);
    this.reportTimer.unref();
  }

  /** Stops in reverse order of start; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.reportTimer) clearInterval(this.reportTimer);
      await this.pipeline?.stop().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'pipeline stop failed'));
      await this.source?.close().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'source close failed'));
      this.classifier?.dispose();
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
