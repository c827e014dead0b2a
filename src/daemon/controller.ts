import * as tf from '@tensorflow/tfjs';
import type { Config } from '../config/schema';
import { openResilientSource } from '../capture/select-source';
import type { ResilientSource } from '../capture/resilient-source';
import type { FrameSource } from '../capture/frame-source';
import type { BackendChoice } from '../model/backend';
import type { Classifier } from '../model/classifier';
import { openClassifier } from '../model/open-model';
import { decisionSettings, DecisionMaker } from '../pipeline/decision';
import { Pipeline, type SourceState } from '../pipeline/pipeline';
import { RuntimeSettingsControl } from '../pipeline/runtime-settings';
import { setupAuth } from '../server/auth-setup';
import { DashboardServer } from '../server/dashboard-server';
import type { DaemonView, ModelInfo, SourceStatus } from '../server/daemon-view';
import { parseAllowedOrigins } from '../server/origin';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { formatReport, gatherReport } from './doctor';

/**
 * Owns the daemon's lifecycle: builds each part with what it depends on, starts them in order
 * (model first, so a bad model fails before the camera is taken; then the source; then the
 * dashboard server; then the pipeline) and stops them in reverse. Constructors do no I/O;
 * start() does. The server sees the rest only through a DaemonView.
 */
export class DaemonController {
  pipeline: Pipeline | undefined;
  backend: BackendChoice | undefined;
  private classifier: Classifier | undefined;
  private source: ResilientSource | undefined;
  server: DashboardServer | undefined;
  /** Where the dashboard listens, once started (port 0 resolved). */
  serverPort: number | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly config: Config, private readonly log: Logger) {}

  async start(): Promise<Pipeline> {
    const { config, log } = this;
    // A bad password or an unwritable state directory stops start-up before the camera is taken.
    const access = config['server.enabled'] ? setupAuth(config, log.child({ component: 'server' })) : undefined;
    // The model is checked by loading it below; the report covers the machine.
    const report = await gatherReport(config, { checkModel: false });
    for (const line of formatReport(report).split('\n')) log.info(`doctor: ${line}`);

    const { classifier, backend } = await openClassifier(config, log.child({ component: 'model' }));
    this.classifier = classifier;
    this.backend = backend;
    const meta = classifier.loaded.metadata;
    log.info({ backend: backend.name, model: classifier.loaded.dir, labels: meta.labels.length }, `model ${meta.name} loaded on TF.js backend ${backend.name}`);

    const source = await openResilientSource(config, log.child({ component: 'capture' }));
    this.source = source;
    log.info({ source: source.description }, `source: ${source.description}`);

    const decisions = new DecisionMaker(meta.labels, decisionSettings(config));
    const pipeline = new Pipeline({
      source: this.source,
      classifier,
      decisions,
      log: log.child({ component: 'pipeline' }),
      overlay: config['overlay.enabled'],
      jpegQuality: config['stream.jpegQuality'],
      maxFps: config['pipeline.maxFps'],
      streamMaxFps: config['stream.maxFps'],
    });
    this.pipeline = pipeline;
    pipeline.events.on('listenerError', ({ event, error }) => log.error({ event, err: errorMessage(error) }, 'an event listener failed'));
    // Reconnects are the resilient source's business; the pipeline's event carries them to clients.
    source.events.on('health', (health) => {
      if (health.state === 'reconnecting') {
        log.warn({ attempt: health.attempt, retryInMs: health.retryInMs, err: health.error }, `source ${health.description}: reconnecting, attempt ${health.attempt} in ${health.retryInMs / 1000} s`);
        pipeline.events.emit('source', { state: 'reconnecting', description: health.description, error: health.error, attempt: health.attempt, retryInMs: health.retryInMs });
      } else if (health.state === 'open') {
        log.info(`source ${health.description}: reconnected`);
        pipeline.events.emit('source', { state: 'open', description: health.description });
      }
    });

    if (access) {
      const view = this.daemonView(pipeline, decisions, classifier, this.source);
      const { auth, announce } = access;
      this.server = new DashboardServer(view, {
        host: config['server.host'],
        port: config['server.port'],
        auth,
        allowedOrigins: parseAllowedOrigins(config['server.allowedOrigins']),
        historySize: config['server.historySize'],
        maxViewers: config['server.maxViewers'],
        log: log.child({ component: 'server' }),
      });
      const { port, urls } = await this.server.start();
      this.serverPort = port;
      announce(urls);
    }
    pipeline.start().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'pipeline stopped with an error'));
    this.startReports(pipeline);
    return pipeline;
  }

  /** The narrow view of the running daemon that the dashboard server reads and controls. */
  private daemonView(pipeline: Pipeline, decisions: DecisionMaker, classifier: Classifier, source: FrameSource): DaemonView {
    const settings = new RuntimeSettingsControl(pipeline, decisions);
    const sourceStatus: SourceStatus = { description: source.description, state: 'open' as SourceState };
    pipeline.events.on('source', (s) => {
      sourceStatus.state = s.state;
      sourceStatus.description = s.description;
      sourceStatus.error = s.error;
      sourceStatus.attempt = s.attempt;
    });
    const backend = this.backend?.name ?? tf.getBackend();
    const loaded = classifier.loaded;
    const meta = loaded.metadata;
    const [height, width, channels] = loaded.inputShape;
    const model: ModelInfo = {
      name: meta.name,
      version: meta.version,
      dir: loaded.dir,
      format: loaded.format,
      labels: [...meta.labels],
      input: { width, height, channels },
      parameters: loaded.parameters,
      conventions: meta.conventions,
      preprocess: meta.preprocess,
      training: meta.extra,
    };
    return {
      feed: pipeline,
      stats: pipeline.stats,
      startedAt: Date.now(),
      latest: () => pipeline.latest,
      source: () => ({ ...sourceStatus }),
      model: () => model,
      backend: () => backend,
      settings: () => settings.current(),
      applySettings: (patch) => {
        const now = settings.apply(patch);
        this.log.info({ settings: patch }, 'settings changed');
        return now;
      },
      tensors: () => tf.memory().numTensors,
    };
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
      await this.server?.stop().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'server stop failed'));
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
