import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { ConfigKey } from '../../src/config/schema';
import { DaemonController } from '../../src/daemon/controller';
import { silentLogger } from '../../src/util/logger';
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
export async function startTestDaemon(overrides: Partial<Record<ConfigKey, unknown>> = {}): Promise<TestDaemon> {
  const stateDir = tempDir('edgesight-state-');
  const config = loadConfig({
    flags: {
      source: thirtyFpsClip().file,
      'server.host': '127.0.0.1',
      'server.port': 0,
      'state.dir': stateDir,
      'log.level': 'silent',
      'pipeline.reportEverySeconds': 0,
      'stream.maxFps': 0,
      ...overrides,
    },
  });
  const daemon = new DaemonController(config, silentLogger());
  await daemon.start();
  const base = `http://127.0.0.1:${daemon.serverPort}`;
  const tokenFile = path.join(stateDir, 'token');
  const token = fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : '';
  return { daemon, base, token, stateDir, authHeaders: { Authorization: `Bearer ${token}` }, stop: () => daemon.stop() };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a value other than undefined, or fails after `ms`. */
export async function waitUntil<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
