import * as path from 'node:path';
import { defaultConfig, type Config } from '../../src/config/schema';
import type { CaptureJob, DatasetSummary, DatasetView } from '../../src/dataset/types';
import { framesFlowing } from '../../src/pipeline/liveness';
import type { EncodedFrame, FrameResult, PipelineEvents } from '../../src/pipeline/pipeline';
import { RUNTIME_SETTING_KEYS, type RuntimeSettings } from '../../src/pipeline/runtime-settings';
import { PipelineStats } from '../../src/pipeline/stats';
import { Authenticator } from '../../src/server/auth';
import { ClientAddresses } from '../../src/server/client-address';
import type { DaemonEvents, DaemonView, ModelInfo, SourceStatus } from '../../src/server/daemon-view';
import { DashboardServer } from '../../src/server/dashboard-server';
import { DatasetRequestError } from '../../src/util/errors';
import { silentLogger } from '../../src/util/logger';
import { TypedEmitter } from '../../src/util/typed-emitter';
import { tempDir } from './fixtures';

/**
 * The daemon as the server sees it, with no camera, OpenCV or TF.js behind it: the fast test
 * tier drives the HTTP app and the live channel through the same DaemonView seam the real
 * controller implements. Results and frames are published by the test, when it wants.
 */
export class StubDaemon implements DaemonView {
  readonly events = new TypedEmitter<DaemonEvents>();
  readonly stats = new PipelineStats();
  readonly startedAt = Date.now();
  readonly uploadRoot = path.join(tempDir('edgesight-stub-state-'), 'uploads');
  readonly feed = { events: new TypedEmitter<PipelineEvents>(), requestJpeg: () => this.holdJpeg() };
  /** How many holders want encoded frames now (viewers connected and not paused). */
  jpegHolders = 0;
  private last: FrameResult | undefined;
  private seq = 0;
  private sourceStatus: SourceStatus = { state: 'open', description: 'stub source' };
  private current: RuntimeSettings = Object.fromEntries(RUNTIME_SETTING_KEYS.map((k) => [k, defaultConfig()[k]])) as RuntimeSettings;
  /** What installModel does with a package: the test decides. */
  install: (dir: string, origin: string) => Promise<ModelInfo> = async () => this.model();
  readonly installs: Array<{ dir: string; origin: string }> = [];
  readonly dataset: DatasetView = stubDataset();

  /** The source's own pace, as a slideshow or a file played in real time has one. */
  paceFps: number | undefined;

  latest(): FrameResult | undefined {
    return this.last;
  }
  framesFlowing(): boolean {
    return framesFlowing(this.last?.decidedAt, this.paceFps);
  }
  source(): SourceStatus {
    return this.sourceStatus;
  }
  model(): ModelInfo {
    return {
      name: 'stub',
      version: '1',
      dir: '/nowhere/stub',
      format: 'tfjs-layers',
      labels: ['cat', 'dog'],
      input: { width: 28, height: 28, channels: 1 },
      parameters: 1,
      conventions: 'edgesight',
      preprocess: {},
      engine: 'tfjs (stub)',
      training: null,
      otherMetadata: {},
    };
  }
  backend(): string {
    return 'stub';
  }
  settings(): RuntimeSettings {
    return { ...this.current };
  }
  applySettings(patch: Partial<RuntimeSettings>): RuntimeSettings {
    this.current = { ...this.current, ...patch };
    return this.settings();
  }
  tensors(): number {
    return 0;
  }
  installModel(dir: string, origin: string): Promise<ModelInfo> {
    this.installs.push({ dir, origin });
    return this.install(dir, origin);
  }
  rollbackModel(): Promise<ModelInfo> {
    return Promise.resolve(this.model());
  }

  /** Publishes one classified frame decided at `decidedAt`, and its JPEG when someone wants pictures. */
  publish(decidedAt = Date.now()): FrameResult {
    const seq = ++this.seq;
    const top = { label: 'cat', index: 0, confidence: 0.9 };
    const result: FrameResult = {
      seq,
      capturedAt: decidedAt - 5,
      decidedAt,
      width: 64,
      height: 48,
      decision: { label: 'cat', index: 0, confidence: 0.9, uncertain: false, topk: [top, { label: 'dog', index: 1, confidence: 0.1 }], frameTop: top },
      timings: { read: 1, preprocess: 1, infer: 1, overlay: 0, encode: 0 },
    };
    this.last = result;
    this.stats.captured++;
    this.stats.tick();
    this.feed.events.emit('result', result);
    if (this.jpegHolders > 0) this.feed.events.emit('jpeg', { result, jpeg: TINY_JPEG } satisfies EncodedFrame);
    return result;
  }

  setSource(status: SourceStatus): void {
    this.sourceStatus = status;
    this.feed.events.emit('source', status);
  }

  private holdJpeg(): () => void {
    this.jpegHolders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.jpegHolders--;
    };
  }
}

/** A JPEG's start and end markers: enough for a transport test, never decoded. */
const TINY_JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

function stubDataset(): DatasetView {
  const refuse = (): never => {
    throw new DatasetRequestError(404, 'the stub daemon keeps no dataset');
  };
  const summary: DatasetSummary = {
    labels: [],
    total: 0,
    bytes: 0,
    capBytes: 0,
    freeBytes: 0,
    minFreeBytes: 0,
    hardExamples: { enabled: false, threshold: 0, onFlip: false, everySeconds: 0 },
    maxSide: 0,
    maxBurst: 0,
  };
  return {
    summary: () => summary,
    capture: () => Promise.reject(new DatasetRequestError(404, 'the stub daemon keeps no dataset')),
    stopCapture: (): CaptureJob | undefined => undefined,
    list: refuse,
    files: refuse,
    samplePath: refuse,
    indexPath: refuse,
    thumbnail: refuse,
    move: refuse,
    remove: refuse,
    zip: refuse,
  };
}

export interface StubServer {
  daemon: StubDaemon;
  server: DashboardServer;
  base: string;
  token: string;
  authHeaders: Record<string, string>;
  stop(): Promise<void>;
}

/** The real DashboardServer over a StubDaemon on a free loopback port, signed in with a token. */
export async function startStubServer(overrides: Partial<Pick<Config, 'server.trustedProxies' | 'server.maxViewers' | 'server.maxUploadMB'>> = {}, thermalRoot?: string): Promise<StubServer> {
  const config = { ...defaultConfig(), ...overrides };
  const token = 'stub-token-of-some-length';
  const daemon = new StubDaemon();
  const auth = new Authenticator('token', token, undefined, new ClientAddresses(config['server.trustedProxies']));
  const server = new DashboardServer(daemon, {
    host: '127.0.0.1',
    port: 0,
    auth,
    allowedOrigins: [],
    historySize: 100,
    maxViewers: config['server.maxViewers'],
    maxUploadBytes: config['server.maxUploadMB'] * 1024 * 1024,
    log: silentLogger(),
    thermalRoot: thermalRoot ?? tempDir('edgesight-no-thermal-'),
  });
  const { port } = await server.start();
  return {
    daemon,
    server,
    base: `http://127.0.0.1:${port}`,
    token,
    authHeaders: { Authorization: `Bearer ${token}` },
    stop: () => server.stop(),
  };
}
