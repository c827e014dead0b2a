import * as http from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { ConfigKey } from '../../src/config/schema';
import { DaemonController } from '../../src/daemon/controller';
import { silentLogger, type Logger } from '../../src/util/logger';
import { tempDir, writePaperDigitClip } from './fixtures';

export interface TestDaemon {
  daemon: DaemonController;
  base: string;
  token: string;
  stateDir: string;
  /** Bearer header for fetch. */
  authHeaders: Record<string, string>;
  stop(): Promise<void>;
}

let sharedClip: { file: string; truths: string[] } | undefined;

/** A 640x480 MJPEG clip of paper digits at 30 fps (4 s) and each frame's digit, written once per test run. */
export function thirtyFpsClip(): { file: string; truths: string[] } {
  if (!sharedClip || !fs.existsSync(sharedClip.file)) {
    const file = path.join(tempDir('edgesight-clip-'), 'digits-30fps.avi');
    sharedClip = { file, truths: writePaperDigitClip(file, { digits: 8, framesPerDigit: 15, fps: 30 }) };
  }
  return sharedClip;
}

/** The digit shown in frame `seq` of the looping test clip (seq counts every frame read, from 1). */
export function clipTruth(seq: number): string {
  const { truths } = thirtyFpsClip();
  return truths[(seq - 1) % truths.length];
}

/**
 * The real daemon in this process: the default model, a real clip played at its own 30 fps in
 * a loop, and the dashboard server on a free loopback port with a fresh state directory.
 */
export async function startTestDaemon(
  overrides: Partial<Record<ConfigKey, unknown>> = {},
  log: Logger = silentLogger(),
  integrationTuning: ConstructorParameters<typeof DaemonController>[3] = {},
): Promise<TestDaemon> {
  const config = loadConfig({
    flags: {
      source: thirtyFpsClip().file,
      'server.host': '127.0.0.1',
      'server.port': 0,
      'state.dir': tempDir('edgesight-state-'),
      'log.level': 'silent',
      'pipeline.reportEverySeconds': 0,
      'stream.maxFps': 0,
      ...overrides,
    },
  });
  const stateDir = config['state.dir'];
  const daemon = new DaemonController(config, log, process.env, integrationTuning);
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  const base = `http://127.0.0.1:${daemon.serverPort}`;
  const tokenFile = path.join(stateDir, 'token');
  const token = fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : '';
  return { daemon, base, token, stateDir, authHeaders: { Authorization: `Bearer ${token}` }, stop: () => daemon.stop() };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a value other than undefined or false, or fails after `ms`. */
export async function waitUntil<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

export interface PlainResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One HTTP request from a chosen loopback address (127.0.0.0/8 is all loopback on Linux), so a
 * test can act as many clients without tripping the per-address sign-in limiter.
 */
export function requestFrom(localAddress: string, url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, localAddress }, (res) => {
      // An MJPEG stream that answered 200 never ends: take the status and go.
      if (res.statusCode === 200 && String(res.headers['content-type']).startsWith('multipart/')) {
        req.destroy();
        return resolve({ status: 200, headers: res.headers, text: '' });
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** fetch().json() typed loosely: tests read fields and assert on them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(res: Response | Promise<Response>): Promise<any> {
  return (await res).json();
}
