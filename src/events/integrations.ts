import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/schema';
import type { FrameResult, Pipeline } from '../pipeline/pipeline';
import type { RuntimeSettings } from '../pipeline/runtime-settings';
import type { EventsAccess, IntegrationsStatus } from './views';
import { ConfigError, errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { ClipRecorder } from './clips';
import { EventStore } from './event-store';
import { parseLabelList, type EventMessage } from './model';
import { checkMqttSettings, MqttSink, resolveDeviceId, type MqttSettings } from './mqtt-sink';
import { EventRecorder } from './recorder';
import { parseWebhookUrls, WebhookSink } from './webhook-sink';

export interface IntegrationHooks {
  pipeline: Pipeline;
  /** Applies a checked settings change (as PATCH /api/settings does) and tells live clients. */
  applySettings(patch: Partial<RuntimeSettings>): RuntimeSettings;
  /** Tells the rest of the daemon (live clients) about an event. */
  announce(message: EventMessage): void;
  source(): string;
}

/**
 * Events and where they go: the recorder (a frame tap), the store, MQTT and webhooks. Built by
 * the controller; `check()` refuses bad settings before the camera is taken; `start()` opens the
 * store and connects; the sinks hear the recorder's events, never the frame path itself.
 */
export class Integrations {
  readonly eventsDir: string;
  private store: EventStore | undefined;
  private recorder: EventRecorder | undefined;
  private mqtt: MqttSink | undefined;
  private webhooks: WebhookSink | undefined;
  private clips: ClipRecorder | undefined;
  private offs: Array<() => void> = [];
  private lastSnapshot: { eventId: string | null; jpeg: Buffer } | undefined;
  private readonly ofInterest: string[];
  private readonly mqttSettings: MqttSettings;

  constructor(
    private readonly config: Config,
    private readonly stateDir: string,
    private readonly log: Logger,
    private readonly tuning: { webhookBackoffMs?: number; mqttReconnectMs?: number } = {},
  ) {
    this.eventsDir = config['events.dir'] || path.join(stateDir, 'events');
    this.ofInterest = parseLabelList(config['events.labels']);
    this.mqttSettings = {
      url: config['mqtt.url'],
      username: config['mqtt.username'],
      password: config['mqtt.password'],
      caFile: config['mqtt.caFile'],
      rejectUnauthorized: config['mqtt.rejectUnauthorized'],
      topicPrefix: config['mqtt.topicPrefix'],
      deviceId: config['mqtt.deviceId'],
      discovery: config['mqtt.discovery'],
      discoveryPrefix: config['mqtt.discoveryPrefix'],
      stateEveryMs: config['mqtt.stateEverySeconds'] * 1000,
      snapshots: config['mqtt.snapshots'],
      queueSize: config['mqtt.queueSize'],
      reconnectMs: tuning.mqttReconnectMs,
    };
  }

  /** Settings mistakes as ConfigErrors (exit 2), before anything starts. */
  check(): void {
    const c = this.config;
    if (c['events.enabled'] && c['events.dir'] !== '') {
      const dir = c['events.dir'];
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ConfigError(`config: events.dir = ${dir} does not exist (create it, or leave events.dir empty for the state directory)`);
    }
    if (c['mqtt.enabled']) {
      checkMqttSettings(this.mqttSettings);
      resolveDeviceId(c['mqtt.deviceId']);
    }
    parseWebhookUrls(c['webhooks.urls']);
    if (!c['events.enabled'] && (c['mqtt.enabled'] || c['webhooks.urls'])) this.log.warn('events.enabled is false: MQTT publishes state only and webhooks get nothing');
  }

  async start(hooks: IntegrationHooks): Promise<void> {
    const { config, log } = this;
    const { pipeline } = hooks;
    const modelName = () => `${pipeline.classifier.loaded.metadata.name} ${pipeline.classifier.loaded.metadata.version}`;
    if (config['events.enabled']) {
      const store = new EventStore({ dir: this.eventsDir, retentionMs: config['events.retentionDays'] * 86_400_000, maxBytes: config['events.maxStorageMB'] * 1024 * 1024, log: log.child({ component: 'events' }) });
      store.open();
      this.store = store;
      const labels = pipeline.classifier.loaded.metadata.labels;
      for (const l of this.ofInterest) if (!labels.includes(l)) log.warn({ label: l }, `events.labels: '${l}' is not a label of the model (${labels.join(', ')})`);
      const recorder = new EventRecorder({
        store,
        cutter: { labels: this.ofInterest, minSeconds: config['events.minSeconds'], cooldownSeconds: config['events.cooldownSeconds'] },
        snapshots: config['events.snapshots'],
        jpegQuality: config['events.jpegQuality'],
        log: log.child({ component: 'events' }),
        model: modelName,
        source: hooks.source,
      });
      this.recorder = recorder;
      pipeline.taps.push(recorder);
      if (config['events.clips']) {
        const clips = new ClipRecorder(pipeline, store, { preSeconds: config['events.preSeconds'], postSeconds: config['events.postSeconds'], minSeconds: config['events.minSeconds'], fps: config['events.clipFps'], maxSeconds: config['events.clipMaxSeconds'] }, log.child({ component: 'clips' }));
        this.clips = clips;
        clips.start();
      }
      this.offs.push(
        () => {
          const i = pipeline.taps.indexOf(recorder);
          if (i >= 0) pipeline.taps.splice(i, 1);
        },
        recorder.bus.on('snapshot', (s) => {
          this.lastSnapshot = s;
          this.mqtt?.snapshot(s.jpeg);
        }),
        recorder.bus.on('event', (m) => {
          this.clips?.onEvent(m);
          hooks.announce(m);
          this.mqtt?.event(m);
          this.webhooks?.event(m, () => (this.lastSnapshot?.eventId === m.event.id ? this.lastSnapshot.jpeg : undefined));
          this.pushState(pipeline.latest, hooks, modelName);
        }),
      );
    }
    const urls = parseWebhookUrls(config['webhooks.urls']);
    const deviceId = resolveDeviceId(config['mqtt.deviceId']);
    if (urls.length) {
      this.webhooks = new WebhookSink(
        { urls, secret: config['webhooks.secret'], snapshot: config['webhooks.snapshot'], timeoutMs: config['webhooks.timeoutSeconds'] * 1000, retries: config['webhooks.retries'], queueSize: config['webhooks.queueSize'], backoffMs: this.tuning.webhookBackoffMs },
        deviceId,
        log.child({ component: 'webhooks' }),
      );
    }
    if (config['mqtt.enabled']) {
      const mqtt = new MqttSink({
        settings: this.mqttSettings,
        commands: {
          applySettings: hooks.applySettings,
          setPaused: (p) => {
            this.recorder?.setPaused(p);
            this.pushState(pipeline.latest, hooks, modelName);
          },
          snapshotNow: () => (this.recorder ? this.recorder.snapshotNow() : Promise.reject(new Error('events are off'))),
        },
        labels: () => {
          const all = [...pipeline.classifier.loaded.metadata.labels];
          return { all, ofInterest: this.ofInterest.length ? this.ofInterest : all.filter((l) => l !== 'uncertain') };
        },
        modelName,
        discoveryRecordFile: path.join(this.stateDir, 'mqtt-discovery.json'),
        log: log.child({ component: 'mqtt' }),
      });
      this.mqtt = mqtt;
      // Cheap per frame: a string compare, and a publish only on change or every mqtt.stateEverySeconds.
      this.offs.push(pipeline.events.on('result', (r) => this.pushState(r, hooks, modelName)));
      mqtt.start();
    }
  }

  /** The clip ring's size now (the measure script). */
  clipRing(): { frames: number; bytes: number } | undefined {
    return this.clips?.ringMemory;
  }

  /** Tells MQTT the model changed (discovery lists its labels). */
  modelChanged(): void {
    this.mqtt?.modelChanged();
  }

  private pushState(r: FrameResult | undefined, hooks: IntegrationHooks, modelName: () => string): void {
    if (!this.mqtt || !r) return;
    const d = r.decision;
    this.mqtt.updateState({
      label: d.label,
      confidence: Math.round(d.confidence * 10000) / 10000,
      uncertain: d.uncertain,
      source: hooks.source(),
      model: modelName(),
      event: this.recorder?.openEvent?.label ?? null,
      paused: this.recorder?.isPaused ?? false,
      threshold: hooks.pipeline.decisions.current.threshold,
      at: r.decidedAt,
    });
  }

  access(): EventsAccess | undefined {
    const store = this.store;
    if (!store) return undefined;
    return {
      list: (q) => store.list(q),
      get: (id) => store.get(id),
      snapshotFile: (id, kind) => store.snapshotFile(id, kind),
      delete: (id) => store.delete(id),
      deleteAll: () => store.deleteAll(),
    };
  }

  status(): IntegrationsStatus {
    const r = this.recorder;
    const m = this.mqtt;
    return {
      events: {
        enabled: !!this.store,
        stored: this.store?.count ?? 0,
        bytes: this.store?.bytes ?? 0,
        open: r?.openEvent?.id ?? null,
        paused: r?.isPaused ?? false,
        byLabel: Object.fromEntries(r?.countsByLabel ?? []),
        droppedJobs: r?.droppedJobs ?? 0,
        deletedByRetention: this.store?.deletedByRetention ?? 0,
        clips: this.clips ? { written: this.clips.written, dropped: this.clips.dropped, ringFrames: this.clips.ringMemory.frames, ringBytes: this.clips.ringMemory.bytes } : null,
      },
      mqtt: { enabled: !!m, connected: m?.connected ?? false, published: m?.published ?? 0, dropped: m?.dropped ?? 0, reconnects: m?.reconnects ?? 0, commandsRejected: m?.commandsRejected ?? 0, lastError: m?.lastError ?? null },
      webhooks: this.webhooks?.status() ?? [],
    };
  }

  /** For tests and the measure script: the recorder's jobs are done. */
  async settled(): Promise<void> {
    await this.recorder?.idle();
    await this.webhooks?.idle();
  }

  /** Ends an open event, then stops the sinks (each in its own boundary). */
  async stop(): Promise<void> {
    const guard = async (what: string, fn: () => Promise<void> | void) => {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, `${what} stop failed`);
      }
    };
    // The open event ends (interrupted) and goes to the sinks like any other.
    await guard('events', () => this.recorder?.close());
    await guard('clips', () => this.clips?.stop());
    for (const off of this.offs.splice(0)) off();
    // Posts in flight get a moment to finish; a target that hangs does not hold up the stop.
    await guard('webhooks', async () => {
      await Promise.race([this.webhooks?.idle(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      await this.webhooks?.stop();
    });
    await guard('mqtt', () => this.mqtt?.stop());
    await guard('events store', () => this.store?.close());
  }
}
