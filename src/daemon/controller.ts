import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Config } from '../config/schema';
import { configSchema } from '../config/schema';
import type { ResilientSource } from '../capture/resilient-source';
import { openResilientSource } from '../capture/select-source';
import type { BackendChoice } from '../model/backend';
import type { Classifier } from '../model/classifier';
import { openClassifier } from '../model/open-model';
import { MemoryBudget } from '../model/memory-budget';
import type { InferencePool } from '../model/pool/inference-pool';
import { poolFor, type PoolServing } from '../model/pool/serve-on-pool';
import { DatasetService } from '../dataset/dataset-service';
import { DatasetStore } from '../dataset/store';
import { decisionSettings, DecisionMaker } from '../pipeline/decision';
import { framesFlowing } from '../pipeline/liveness';
import { Pipeline } from '../pipeline/pipeline';
import { setupAuth } from '../server/auth-setup';
import { DashboardServer } from '../server/dashboard-server';
import type { DaemonEvents } from '../server/daemon-view';
import { parseAllowedOrigins } from '../server/origin';
import { ensureStateDir, resolveStateDir } from '../server/state-dir';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { TypedEmitter } from '../util/typed-emitter';
import { Integrations } from '../events/integrations';
import { RuntimeSettingsControl } from '../pipeline/runtime-settings';
import { createDaemonView, modelInfo } from './daemon-view-adapter';
import { formatReport, gatherReport } from './doctor';
import { ModelHandoff } from './model-handoff';
import { ModelInbox } from './model-inbox';
import { ModelStore } from './model-store';
import { StateLock } from './state-lock';
import { SystemdNotifier } from './systemd-notify';
import { roundTo } from '../util/round';

/** The inference workers in a report line: how many serve, and what each holds in memory. */
function workersLine(pool: InferencePool): Record<string, unknown> | undefined {
  const status = pool.status();
  if (!status.workers.some((w) => w.state !== 'dead')) return undefined;
  return {
    ready: status.ready,
    crashes: status.crashes,
    externalMB: status.workers.map((w) => (w.memory ? Math.round(w.memory.external / 1048576) : null)),
    tensors: status.workers.map((w) => w.memory?.tensors ?? null),
  };
}

/**
 * Owns the daemon's lifecycle: builds each part with what it depends on, starts them in order
 * (model first, so a bad model fails before the camera is taken; then the source; then the
 * dashboard server; then the pipeline and the model inbox) and stops them in reverse.
 * Constructors do no I/O; start() does. The server sees the rest only through a DaemonView.
 */
export class DaemonController {
  pipeline: Pipeline | undefined;
  backend: BackendChoice | undefined;
  server: DashboardServer | undefined;
  /** Where the dashboard listens, once started (port 0 resolved). */
  serverPort: number | undefined;
  readonly events = new TypedEmitter<DaemonEvents>();
  readonly stateDir: string;
  handoff: ModelHandoff | undefined;
  private classifier: Classifier | undefined;
  /** The inference workers (pipeline.workers), when the setting can give a model more than one. */
  pool: InferencePool | undefined;
  private source: ResilientSource | undefined;
  private inbox: ModelInbox | undefined;
  dataset: DatasetService | undefined;
  private readonly notifier: SystemdNotifier;
  private timers: NodeJS.Timeout[] = [];
  private stopping: Promise<void> | undefined;
  private stateLock: StateLock | undefined;
  /** Events, MQTT and webhooks (src/events). */
  integrations: Integrations | undefined;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
    /** Shorter webhook back-off and MQTT reconnect wait (tests, the measure script). */
    private readonly integrationTuning: { webhookBackoffMs?: number; mqttReconnectMs?: number } = {},
  ) {
    this.stateDir = resolveStateDir(config, env);
    this.notifier = new SystemdNotifier(env, log.child({ component: 'systemd' }));
  }

  async start(): Promise<Pipeline> {
    const { config, log } = this;
    // Events, MQTT and webhook settings are checked before anything is taken (exit 2).
    const integrations = new Integrations(config, this.stateDir, log.child({ component: 'integrations' }), this.integrationTuning);
    integrations.check();
    // Before anything in the state directory is read or cleared: it must be usable, and ours
    // alone (a second daemon would empty the first one's upload staging area).
    ensureStateDir(this.stateDir);
    this.stateLock = StateLock.acquire(this.stateDir, log);
    // A bad password stops start-up before the camera is taken.
    const access = config['server.enabled'] ? setupAuth(config, log.child({ component: 'server' })) : undefined;
    // The model is checked by loading it below; the report covers the machine.
    const report = await gatherReport(config, { checkModel: false });
    for (const line of formatReport(report).split('\n')) log.info(`doctor: ${line}`);

    const store = new ModelStore(this.stateDir);
    const modelLog = log.child({ component: 'model' });
    // A swap cut short by a crash or power cut is completed or undone before anything is loaded.
    for (const note of store.recover()) modelLog.warn(`model store: ${note}`);
    this.pool = poolFor(config['pipeline.workers'], log.child({ component: 'pool' }));
    const memory = new MemoryBudget(config['model.backend']);
    const serving = (onFailure: PoolServing['onFailure']): PoolServing | undefined =>
      this.pool ? { pool: this.pool, setting: config['pipeline.workers'], onFailure, memoryRoom: () => memory.room() } : undefined;
    const { classifier, backend } = await openClassifier(config, modelLog, this.startupModelDirs(store), serving('in-process'));
    this.classifier = classifier;
    this.backend = backend;
    const meta = classifier.loaded.metadata;
    log.info({ backend: backend.name, engine: classifier.engineSummary, model: classifier.loaded.dir, labels: meta.labels.length }, `model ${meta.name} ${meta.version} loaded: engine ${classifier.engineSummary}, TF.js backend ${backend.name}`);

    const source = await openResilientSource(config, log.child({ component: 'capture' }));
    this.source = source;
    log.info({ source: source.description }, `source: ${source.description}`);

    const pipeline = new Pipeline({
      source,
      classifier,
      decisions: new DecisionMaker(meta.labels, decisionSettings(config)),
      log: log.child({ component: 'pipeline' }),
      overlay: config['overlay.enabled'],
      jpegQuality: config['stream.jpegQuality'],
      maxFps: config['pipeline.maxFps'],
      streamMaxFps: config['stream.maxFps'],
      batchSize: config['pipeline.batchSize'],
    });
    this.pipeline = pipeline;
    pipeline.events.on('listenerError', ({ event, error }) => log.error({ event, err: errorMessage(error) }, 'an event listener failed'));
    this.forwardSourceHealth(source, pipeline);
    const dataset = await this.openDataset(pipeline, source.description);

    // Event sinks run off the recorder's events: none of them is on the frame path.
    const settingsControl = new RuntimeSettingsControl(pipeline);
    let sourceNow = source.description;
    pipeline.events.on('source', (s) => (sourceNow = s.description));
    await integrations.start({
      pipeline,
      applySettings: (patch) => {
        const now = settingsControl.apply(patch);
        log.info({ settings: patch }, 'settings changed (MQTT command)');
        this.events.emit('settings', now);
        return now;
      },
      announce: (message) => this.events.emit('event', message),
      source: () => sourceNow,
    });
    this.integrations = integrations;

    const handoff = new ModelHandoff(store, { swap: (next) => this.swapModel(pipeline, next), servingDir: () => pipeline.classifier.loaded.dir }, modelLog, { backend: config['model.backend'], threads: config['model.threads'], pool: serving('refuse') });
    this.handoff = handoff;
    const installModel = async (dir: string, origin: string) => {
      try {
        return modelInfo(await handoff.install(dir, origin));
      } catch (err) {
        this.events.emit('modelRejected', { origin, error: errorMessage(err) });
        throw err;
      }
    };

    if (access) {
      const view = createDaemonView({
        pipeline,
        events: this.events,
        backend: backend.name,
        initialSource: source.description,
        paceFps: () => source.paceFps,
        installModel,
        rollbackModel: async () => modelInfo(await handoff.rollback()),
        uploadRoot: path.join(this.stateDir, 'incoming'),
        dataset,
        eventLog: integrations.access(),
        integrations: () => integrations.status(),
        pool: this.pool ? () => this.pool!.status() : undefined,
        log,
      });
      this.server = new DashboardServer(view, {
        host: config['server.host'],
        port: config['server.port'],
        auth: access.auth,
        allowedOrigins: parseAllowedOrigins(config['server.allowedOrigins']),
        historySize: config['server.historySize'],
        maxViewers: config['server.maxViewers'],
        maxUploadBytes: config['server.maxUploadMB'] * 1024 * 1024,
        log: log.child({ component: 'server' }),
      });
      const { port, urls } = await this.server.start();
      this.serverPort = port;
      access.announce(urls);
    }
    pipeline.start().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'pipeline stopped with an error'));
    this.inbox = new ModelInbox(this.stateDir, handoff, modelLog);
    this.inbox.start();
    this.startReports(pipeline);
    this.startWatchdog(pipeline, source);
    this.notifier.ready(`serving ${meta.name} ${meta.version} from ${source.description}${this.serverPort ? ` on port ${this.serverPort}` : ''}`);
    return pipeline;
  }

  /**
   * The dataset folder in the state directory, read once, and the service that keeps samples:
   * it becomes the pipeline's frame tap (raw frames for captures and hard examples).
   */
  private async openDataset(pipeline: Pipeline, sourceDescription: string): Promise<DatasetService> {
    const { config } = this;
    const log = this.log.child({ component: 'dataset' });
    const store = new DatasetStore(this.stateDir, { capBytes: Math.floor(config['dataset.maxMB'] * 1048576), minFreeBytes: Math.floor(config['dataset.minFreeMB'] * 1048576) }, log);
    await store.open();
    const dataset = new DatasetService(
      store,
      {
        maxSide: config['dataset.maxSide'],
        jpegQuality: config['dataset.jpegQuality'],
        maxBurst: config['dataset.maxBurst'],
        hardExamples: config['dataset.hardExamples'],
        hardThreshold: config['dataset.hardExamplesThreshold'],
        hardOnFlip: config['dataset.hardExamplesOnFlip'],
        hardEverySeconds: config['dataset.hardExamplesEverySeconds'],
      },
      {
        model: () => ({ name: pipeline.classifier.loaded.metadata.name, version: pipeline.classifier.loaded.metadata.version }),
        source: () => sourceDescription,
        notify: (notice) => this.events.emit('dataset', notice),
      },
      log,
    );
    this.dataset = dataset;
    pipeline.taps.push(dataset);
    const summary = dataset.summary();
    if (summary.total > 0 || config['dataset.hardExamples']) log.info(`dataset: ${summary.total} samples in ${store.dir} (${(summary.bytes / 1048576).toFixed(1)} of ${config['dataset.maxMB']} MB)${config['dataset.hardExamples'] ? '; keeping hard examples' : ''}`);
    return dataset;
  }

  /**
   * The packages in the state directory (active, then previous: put there by hand-offs) to try
   * before model.path, unless model.path was set to something other than its default, in which
   * case the user's choice wins. openClassifier falls back along the list, loudly.
   */
  private startupModelDirs(store: ModelStore): string[] {
    if (this.config['model.path'] !== configSchema['model.path'].default) return [];
    const dirs = store.startupCandidates();
    if (dirs.length) this.log.info({ model: dirs[0] }, `model: the one last handed off, in ${dirs[0]}`);
    return dirs;
  }

  private swapModel(pipeline: Pipeline, next: Classifier): Classifier {
    const decisions = new DecisionMaker(next.loaded.metadata.labels, pipeline.decisions.current);
    const old = pipeline.replaceModel(next, decisions);
    this.classifier = next;
    this.events.emit('model', modelInfo(next));
    this.integrations?.modelChanged();
    return old;
  }

  /** Reconnects are the resilient source's business; the pipeline's `source` event carries them to clients. */
  private forwardSourceHealth(source: ResilientSource, pipeline: Pipeline): void {
    source.events.on('health', (health) => {
      if (health.state === 'reconnecting') {
        this.log.warn({ attempt: health.attempt, retryInMs: health.retryInMs, err: health.error }, `source ${health.description}: reconnecting, attempt ${health.attempt} in ${health.retryInMs / 1000} s`);
        this.notifier.status(`source reconnecting, attempt ${health.attempt}: ${health.error}`);
        pipeline.events.emit('source', { state: 'reconnecting', description: health.description, error: health.error, attempt: health.attempt, retryInMs: health.retryInMs });
      } else if (health.state === 'open') {
        this.log.info(`source ${health.description}: reconnected`);
        this.notifier.status(`source reconnected: ${health.description}`);
        pipeline.events.emit('source', { state: 'open', description: health.description });
      }
    });
  }

  /**
   * WATCHDOG=1 only while the daemon makes progress: frames classified recently, or the source
   * actively reconnecting (a camera being waited for is not a hang). A stalled pipeline stops
   * the pings and systemd restarts the service; a timer alone would keep a hung daemon alive.
   */
  private startWatchdog(pipeline: Pipeline, source: ResilientSource): void {
    const interval = this.notifier.watchdogIntervalMs;
    if (!interval) return;
    const timer = setInterval(() => {
      const now = Date.now();
      // The same judgement as /healthz, plus one of its own: a camera being waited for is not a hang.
      const flowing = framesFlowing(pipeline.latest?.decidedAt, source.paceFps, now);
      const reconnecting = source.reconnecting && now - source.lastProgressAt < 45_000;
      if (flowing || reconnecting) this.notifier.watchdog();
    }, interval);
    timer.unref();
    this.timers.push(timer);
  }

  /** Logs throughput and the current decision every pipeline.reportEverySeconds. */
  private startReports(pipeline: Pipeline): void {
    const every = this.config['pipeline.reportEverySeconds'];
    if (every <= 0) return;
    const timer = setInterval(() => {
      const s = pipeline.stats.snapshot();
      const latest = pipeline.latest;
      this.log.info(
        {
          fps: roundTo(s.fps, 1),
          captured: s.captured,
          classified: s.classified,
          dropped: s.dropped,
          ms: Object.fromEntries(Object.entries(s.stageMs).map(([k, v]) => [k, roundTo(v, 1)])),
          latencyMs: roundTo(s.latencyMs, 1),
          label: latest?.decision.label,
          confidence: latest ? roundTo(latest.decision.confidence, 1) : undefined,
          truth: latest?.truth,
          // Both must stay flat on a device left running for months.
          tensors: tf.memory().numTensors,
          rssMB: Math.round(process.memoryUsage.rss() / 1048576),
          workers: this.pool ? workersLine(this.pool) : undefined,
        },
        latest ? `${roundTo(s.fps, 1)} fps, now: ${latest.decision.label} ${Math.round(latest.decision.confidence * 100)}%` : 'waiting for the first frame',
      );
    }, every * 1000);
    timer.unref();
    this.timers.push(timer);
  }

  /** Stops in reverse order of start; safe to call more than once. */
  stop(): Promise<void> {
    // Start-up refused before the state directory was ours (unusable, or another daemon's):
    // nothing was started, so there is nothing to stop and no 'stopped' to log.
    if (!this.stateLock) return Promise.resolve();
    this.stopping ??= (async () => {
      this.notifier.stopping();
      for (const timer of this.timers) clearInterval(timer);
      this.inbox?.stop();
      this.dataset?.close();
      await this.server?.stop().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'server stop failed'));
      // The pipeline's capture loop may be waiting inside the source (a reconnect back-off of up
      // to 30 s): ask the pipeline to stop, close the source so that wait ends, then wait for both.
      const pipelineStopped = this.pipeline?.stop().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'pipeline stop failed'));
      await this.source?.close().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'source close failed'));
      await pipelineStopped;
      await this.integrations?.stop().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'integrations stop failed'));
      this.classifier?.dispose();
      // Worker threads would keep the process alive: they end with the daemon.
      await this.pool?.stop().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'inference pool stop failed'));
      this.notifier.close();
      this.stateLock?.release();
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}
