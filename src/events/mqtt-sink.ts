import * as fs from 'node:fs';
import * as os from 'node:os';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { parseSettingsPatch, type RuntimeSettings } from '../pipeline/runtime-settings';
import { ConfigError, errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import type { EventMessage } from './model';

export interface MqttSettings {
  url: string;
  username: string;
  password: string;
  caFile: string;
  rejectUnauthorized: boolean;
  topicPrefix: string;
  deviceId: string;
  discovery: boolean;
  discoveryPrefix: string;
  stateEveryMs: number;
  snapshots: boolean;
  queueSize: number;
  /** Wait before reconnecting (MQTT.js reconnectPeriod). */
  reconnectMs?: number;
}

/** The retained state (PREFIX/DEVICE/state). */
export interface MqttState {
  label: string;
  confidence: number;
  uncertain: boolean;
  source: string;
  model: string;
  /** Label of the open event, or null. */
  event: string | null;
  paused: boolean;
  threshold: number;
  at: number;
}

/** What MQTT commands act on: settings checked like PATCH /api/settings, pause, snapshot. */
export interface MqttCommands {
  applySettings(patch: Partial<RuntimeSettings>): RuntimeSettings;
  setPaused(paused: boolean): void;
  snapshotNow(): Promise<Buffer>;
}

export interface MqttDeps {
  settings: MqttSettings;
  commands: MqttCommands;
  /** Model labels and labels of interest, for discovery. */
  labels(): { all: string[]; ofInterest: string[] };
  modelName(): string;
  /** Where the list of discovery topics published is kept (to remove them later). */
  discoveryRecordFile: string;
  log: Logger;
}

const ID_RULE = /^[A-Za-z0-9_-]{1,64}$/;
const TOPIC_PREFIX_RULE = /^[^#+\u0000]+$/;

/** The device id: mqtt.deviceId, else the host name made safe; checked with a message naming the key. */
export function resolveDeviceId(configured: string): string {
  if (configured !== '') {
    if (!ID_RULE.test(configured)) throw new ConfigError(`config: mqtt.deviceId = ${JSON.stringify(configured)} is not allowed: must be 1 to 64 letters, digits, _ or -`);
    return configured;
  }
  return os.hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'edgesight';
}

/** Checks the MQTT settings at start (exit 2 on a mistake), before any connection is tried. */
export function checkMqttSettings(s: MqttSettings): void {
  let url: URL;
  try {
    url = new URL(s.url);
  } catch {
    throw new ConfigError(`config: mqtt.url = ${JSON.stringify(s.url)} is not allowed: must be mqtt://host:port or mqtts://host:port`);
  }
  if (!['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:'].includes(url.protocol)) throw new ConfigError(`config: mqtt.url = ${JSON.stringify(s.url)} is not allowed: must be mqtt://host:port or mqtts://host:port`);
  if (url.password) throw new ConfigError('config: mqtt.url must not hold a password; use mqtt.username and EDGESIGHT_MQTT_PASSWORD');
  if (!TOPIC_PREFIX_RULE.test(s.topicPrefix) || s.topicPrefix.startsWith('/') || s.topicPrefix.endsWith('/')) throw new ConfigError(`config: mqtt.topicPrefix = ${JSON.stringify(s.topicPrefix)} is not allowed: must be a topic without #, + or a leading/trailing /`);
  if (!TOPIC_PREFIX_RULE.test(s.discoveryPrefix) || s.discoveryPrefix === '') throw new ConfigError(`config: mqtt.discoveryPrefix = ${JSON.stringify(s.discoveryPrefix)} is not allowed: must be a topic without # or +`);
  if (s.caFile && !fs.existsSync(s.caFile)) throw new ConfigError(`config: mqtt.caFile = ${s.caFile} does not exist`);
}

/** A label as a topic level and object id: lower case, [a-z0-9_] only, never empty. */
export function slug(label: string): string {
  const s = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return s || 'label';
}

/**
 * MQTT: retained state, event start/end, availability (last will 'offline'), snapshots as
 * image payloads, commands in, and Home Assistant discovery. It publishes only while
 * connected: the state and discovery are re-published on every (re)connect, event messages
 * wait in a bounded queue (oldest dropped and counted), snapshots while away are skipped.
 * MQTT.js reconnects by itself; nothing here blocks or grows while the broker is away.
 */
export class MqttSink {
  readonly base: string;
  readonly deviceId: string;
  private client: MqttClient | undefined;
  private readonly pending: Array<{ topic: string; payload: string }> = [];
  private state: MqttState | undefined;
  private lastStateAt = 0;
  private lastStateKey = '';
  private lastSnapshot: Buffer | undefined;
  published = 0;
  dropped = 0;
  reconnects = 0;
  commandsRejected = 0;
  lastError: string | null = null;

  constructor(private readonly deps: MqttDeps) {
    checkMqttSettings(deps.settings);
    this.deviceId = resolveDeviceId(deps.settings.deviceId);
    this.base = `${deps.settings.topicPrefix}/${this.deviceId}`;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Starts connecting; never waits for the broker (it may come later). */
  start(): void {
    const s = this.deps.settings;
    const options: IClientOptions = {
      clientId: `edgesight_${this.deviceId}_${Math.random().toString(16).slice(2, 8)}`,
      clean: true,
      reconnectPeriod: s.reconnectMs ?? 5000,
      connectTimeout: 10_000,
      keepalive: 30,
      queueQoSZero: false,
      resubscribe: true,
      will: { topic: `${this.base}/availability`, payload: Buffer.from('offline'), qos: 1, retain: true },
      rejectUnauthorized: s.rejectUnauthorized,
    };
    if (s.username) options.username = s.username;
    if (s.password) options.password = s.password;
    if (s.caFile) options.ca = fs.readFileSync(s.caFile);
    const client = connect(s.url, options);
    this.client = client;
    const log = this.deps.log;
    let wasConnected = false;
    client.on('connect', () => {
      if (wasConnected) this.reconnects++;
      wasConnected = true;
      this.lastError = null;
      log.info({ url: s.url, base: this.base }, `mqtt: connected to ${s.url}`);
      this.onConnect();
    });
    client.on('close', () => {
      if (wasConnected && !this.closing) log.warn('mqtt: connection closed; reconnecting');
    });
    client.on('error', (err) => {
      if (this.lastError !== err.message) log.warn({ err: err.message }, `mqtt: ${err.message}`);
      this.lastError = err.message;
    });
    client.on('offline', () => {
      if (!this.closing && !this.lastError) this.lastError = 'broker unreachable';
    });
    client.on('message', (topic, payload) => this.onCommand(topic, payload));
  }

  private closing = false;

  async stop(): Promise<void> {
    this.closing = true;
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      // A clean goodbye: the will is only for when the device dies.
      await client.publishAsync(`${this.base}/availability`, 'offline', { qos: 1, retain: true }).catch(() => undefined);
    }
    await client.endAsync(!client.connected).catch(() => undefined);
  }

  /** The latest decision: published at once when what it says changed, else at most every mqtt.stateEverySeconds. */
  updateState(state: MqttState): void {
    this.state = state;
    const key = `${state.label}|${state.uncertain}|${state.event}|${state.paused}|${state.threshold}|${state.model}`;
    const now = Date.now();
    if (key === this.lastStateKey && now - this.lastStateAt < this.deps.settings.stateEveryMs) return;
    this.lastStateKey = key;
    this.lastStateAt = now;
    this.publishState();
  }

  event(message: EventMessage): void {
    const item = { topic: `${this.base}/event/${message.phase}`, payload: JSON.stringify(message.event) };
    if (this.connected) return this.publish(item.topic, item.payload, 1, false);
    if (this.pending.length >= this.deps.settings.queueSize) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push(item);
  }

  snapshot(jpeg: Buffer): void {
    if (!this.deps.settings.snapshots) return;
    this.lastSnapshot = jpeg;
    if (this.connected) this.publish(`${this.base}/snapshot`, jpeg, 0, true);
  }

  /** The model changed: its labels may be others. */
  modelChanged(): void {
    if (this.connected) this.publishDiscovery();
  }

  private onConnect(): void {
    const client = this.client!;
    client.subscribe([`${this.base}/set/+`, `${this.base}/command/+`], { qos: 0 }, (err) => {
      if (err) this.deps.log.warn({ err: err.message }, 'mqtt: could not subscribe to commands');
    });
    this.publish(`${this.base}/availability`, 'online', 1, true);
    this.publishDiscovery();
    if (this.state) this.publishState();
    if (this.lastSnapshot && this.deps.settings.snapshots) this.publish(`${this.base}/snapshot`, this.lastSnapshot, 0, true);
    const waiting = this.pending.splice(0);
    for (const item of waiting) this.publish(item.topic, item.payload, 1, false);
  }

  private publishState(): void {
    if (!this.state || !this.connected) return;
    this.publish(`${this.base}/state`, JSON.stringify(this.state), 0, true);
  }

  private publish(topic: string, payload: string | Buffer, qos: 0 | 1, retain: boolean): void {
    const client = this.client;
    if (!client?.connected) return;
    this.published++;
    client.publish(topic, payload, { qos, retain }, (err) => {
      if (err) this.lastError = err.message;
    });
  }

  // ---- commands ------------------------------------------------------------------------

  private onCommand(topic: string, payload: Buffer): void {
    const log = this.deps.log;
    const name = topic.slice(this.base.length + 1);
    const text = payload.toString('utf8').trim();
    const refuse = (why: string) => {
      this.commandsRejected++;
      log.warn({ topic, payload: text.slice(0, 100) }, `mqtt: command ${name} ignored: ${why}`);
    };
    try {
      switch (name) {
        case 'set/threshold': {
          if (!/^-?(\d+(\.\d+)?|\.\d+)$/.test(text)) return refuse(`decision.threshold = ${JSON.stringify(text.slice(0, 40))} is not a number`);
          this.deps.commands.applySettings(parseSettingsPatch({ 'decision.threshold': Number(text) }));
          break;
        }
        case 'set/settings': {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return refuse('payload is not JSON such as {"decision.threshold": 0.6}');
          }
          this.deps.commands.applySettings(parseSettingsPatch(body));
          break;
        }
        case 'set/pause': {
          const v = text.toLowerCase();
          if (['on', 'true', '1', 'pause'].includes(v)) this.deps.commands.setPaused(true);
          else if (['off', 'false', '0', 'resume'].includes(v)) this.deps.commands.setPaused(false);
          else return refuse(`pause = ${JSON.stringify(text.slice(0, 40))}: must be ON or OFF`);
          break;
        }
        case 'command/snapshot': {
          this.deps.commands.snapshotNow().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'mqtt: snapshot command failed'));
          break;
        }
        default:
          return refuse(`unknown command topic (known: set/threshold, set/settings, set/pause, command/snapshot)`);
      }
      log.info({ topic, payload: text.slice(0, 100) }, `mqtt: command ${name} applied`);
    } catch (err) {
      refuse(errorMessage(err));
    }
  }

  // ---- Home Assistant discovery ----------------------------------------------------------

  /** The discovery messages for the current model, by topic. */
  discoveryMessages(): Map<string, Record<string, unknown>> {
    const { discoveryPrefix } = this.deps.settings;
    const id = this.deviceId;
    const base = this.base;
    const { all, ofInterest } = this.deps.labels();
    const device = { identifiers: [`edgesight_${id}`], name: `edgesight ${id}`, manufacturer: 'edgesight', model: this.deps.modelName(), sw_version: '0.1.0' };
    const common = { availability_topic: `${base}/availability`, payload_available: 'online', payload_not_available: 'offline', device };
    const out = new Map<string, Record<string, unknown>>();
    const put = (component: string, object: string, body: Record<string, unknown>) => out.set(`${discoveryPrefix}/${component}/${id}/${object}/config`, { ...common, unique_id: `edgesight_${id}_${object}`, object_id: `edgesight_${id}_${object}`, ...body });
    put('sensor', 'label', { name: 'Label', state_topic: `${base}/state`, value_template: '{{ value_json.label }}', device_class: 'enum', options: [...new Set([...all, 'uncertain'])], icon: 'mdi:eye' });
    put('sensor', 'confidence', { name: 'Confidence', state_topic: `${base}/state`, value_template: '{{ (value_json.confidence * 100) | round(1) }}', unit_of_measurement: '%', state_class: 'measurement' });
    for (const label of ofInterest) {
      put('binary_sensor', `event_${slug(label)}`, { name: label, state_topic: `${base}/state`, value_template: `{{ 'ON' if value_json.event == ${JSON.stringify(label)} else 'OFF' }}`, payload_on: 'ON', payload_off: 'OFF', device_class: 'occupancy' });
    }
    put('image', 'snapshot', { name: 'Last event', image_topic: `${base}/snapshot`, content_type: 'image/jpeg' });
    put('number', 'threshold', { name: 'Threshold', state_topic: `${base}/state`, value_template: '{{ value_json.threshold }}', command_topic: `${base}/set/threshold`, min: 0, max: 1, step: 0.01, mode: 'box', entity_category: 'config' });
    put('switch', 'pause', { name: 'Pause events', state_topic: `${base}/state`, value_template: "{{ 'ON' if value_json.paused else 'OFF' }}", command_topic: `${base}/set/pause`, payload_on: 'ON', payload_off: 'OFF', entity_category: 'config' });
    put('button', 'take_snapshot', { name: 'Take snapshot', command_topic: `${base}/command/snapshot`, payload_press: 'PRESS' });
    return out;
  }

  /**
   * Publishes discovery (retained) when it is on, and an empty retained payload to every topic
   * published before and not wanted now (all of them when discovery is off), so Home Assistant
   * removes those entities. The topics published are recorded in the state directory.
   */
  private publishDiscovery(): void {
    const file = this.deps.discoveryRecordFile;
    let before: string[] = [];
    try {
      before = JSON.parse(fs.readFileSync(file, 'utf8')) as string[];
      if (!Array.isArray(before)) before = [];
    } catch {
      // none recorded
    }
    const on = this.deps.settings.discovery;
    const now = on ? this.discoveryMessages() : new Map<string, Record<string, unknown>>();
    // Off: also the topics this model would have now, in case the record was lost.
    const stale = new Set([...before, ...(on ? [] : this.discoveryMessages().keys())]);
    for (const topic of stale) if (!now.has(topic)) this.publish(topic, '', 1, true);
    for (const [topic, body] of now) this.publish(topic, JSON.stringify(body), 1, true);
    try {
      fs.writeFileSync(file, JSON.stringify([...now.keys()]));
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'mqtt: could not record the discovery topics');
    }
  }
}
