import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import type { ConfigKey } from '../../src/config/schema';
import { silentLogger, type Logger } from '../../src/util/logger';
import { startTestDaemon, waitUntil, type TestDaemon } from './daemon';
import { tempDir } from './fixtures';

/** A free loopback TCP port (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface BrokerOptions {
  port?: number;
  /** user -> password; without it anonymous clients are allowed. */
  users?: Record<string, string>;
  /** TLS listener with these PEM files. */
  tls?: { cafile: string; certfile: string; keyfile: string };
}

/**
 * A real mosquitto broker of its own on a loopback port with a generated config (never the
 * system service). stop() kills it (SIGKILL: no persistence, retained messages are gone);
 * start() again brings it back on the same port.
 */
export class Broker {
  port = 0;
  private child: ChildProcess | undefined;
  readonly dir = tempDir('edgesight-mosquitto-');

  constructor(private readonly options: BrokerOptions = {}) {}

  get url(): string {
    return `${this.options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = this.options.port ?? (await freePort());
    const lines = [`listener ${this.port} 127.0.0.1`, 'persistence false', 'log_dest stderr', 'log_type error'];
    if (this.options.users) {
      const file = path.join(this.dir, 'passwd');
      fs.writeFileSync(file, '');
      for (const [user, password] of Object.entries(this.options.users)) {
        const r = spawnSync('mosquitto_passwd', ['-b', file, user, password], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      }
      // mosquitto started as root reads it as the mosquitto user.
      fs.chmodSync(this.dir, 0o755);
      fs.chmodSync(file, 0o644);
      lines.push('allow_anonymous false', `password_file ${file}`);
    } else {
      lines.push('allow_anonymous true');
    }
    if (this.options.tls) {
      const t = this.options.tls;
      lines.push(`cafile ${t.cafile}`, `certfile ${t.certfile}`, `keyfile ${t.keyfile}`);
    }
    const conf = path.join(this.dir, 'mosquitto.conf');
    fs.writeFileSync(conf, lines.join('\n') + '\n');
    const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    this.child = child;
    await waitUntil(`mosquitto listening on ${this.port} (${stderr})`, () => (child.exitCode !== null ? Promise.reject(new Error(`mosquitto exited: ${stderr}`)) : canConnect(this.port)), 10_000);
    return this;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export interface Message {
  topic: string;
  payload: Buffer;
  retain: boolean;
  at: number;
}

/** A real MQTT client in the test that records every message under `topics`. */
export class Recorder {
  readonly messages: Message[] = [];
  readonly client: MqttClient;

  constructor(url: string, topics: string[], options: Record<string, unknown> = {}) {
    this.client = connect(url, { reconnectPeriod: 200, ...options });
    this.client.on('connect', () => this.client.subscribe(topics, { qos: 1 }));
    this.client.on('message', (topic, payload, packet) => this.messages.push({ topic, payload, retain: packet.retain, at: Date.now() }));
  }

  on(topic: string): Message[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  last(topic: string): Message | undefined {
    const all = this.on(topic);
    return all[all.length - 1];
  }

  waitFor(what: string, test: (m: Message) => boolean, ms = 15_000, after = 0): Promise<Message> {
    return waitUntil(what, () => this.messages.find((m) => m.at >= after && test(m)), ms);
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** Log lines as objects, for tests that check what was logged. */
export function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pino = require('pino') as typeof import('pino');
  const log = pino.default({ level: 'info', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

/** The real daemon (startTestDaemon) with events cut quickly and short MQTT reconnect and webhook back-off waits. */
export function startEventsDaemon(overrides: Partial<Record<ConfigKey, unknown>>, log: Logger = silentLogger()): Promise<TestDaemon> {
  return startTestDaemon({ 'events.minSeconds': 0.2, 'events.cooldownSeconds': 0, ...overrides }, log, { webhookBackoffMs: 100, mqttReconnectMs: 300 });
}
