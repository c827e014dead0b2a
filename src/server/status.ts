import type { IntegrationsStatus } from '../events/views';
import type { DaemonView } from './daemon-view';
import { cpuTemperature } from './system-info';
import type { ViewerHub } from './viewer-hub';
import { roundTo } from '../util/round';

export interface DaemonStatus {
  source: ReturnType<DaemonView['source']>;
  model: { name: string; version: string; labels: number };
  /** The TF.js backend of the process. */
  backend: string;
  /** The inference engine of the model in service and why it was chosen (it can differ per model). */
  engine: string;
  fps: number;
  /** Recent average per stage, ms. */
  stageMs: Record<string, number>;
  /** Capture to decision, recent average, ms. */
  latencyMs: number;
  frames: { captured: number; classified: number; dropped: number; encoded: number };
  clients: { live: number; mjpeg: number };
  uptimeSeconds: number;
  tensors: number;
  rssMB: number;
  cpuTemperatureC: number | null;
  /** Events, MQTT and webhooks (failures show here). */
  integrations?: IntegrationsStatus;
  /**
   * Inference workers: how many classify at once (1: on the main thread), on which engine, and
   * per worker its state and memory. Worker threads share the process's RSS (rssMB counts
   * them); each one's own part is its V8 heap and its WASM heap (in externalMB).
   */
  workers: WorkersStatus;
}

export interface WorkersStatus {
  /** Runs in flight at once for the model in service. */
  count: number;
  engine: string;
  crashes: number;
  respawns: number;
  perWorker: Array<{ index: number; state: string; threadId: number | null; models: number; heapMB: number | null; externalMB: number | null; tensors: number | null; tensorMB: number | null }>;
}

/** The workers' part of the status; per-worker numbers are the latest each worker reported (refreshed every few seconds). */
export function workersStatus(daemon: DaemonView, engine: string): WorkersStatus {
  const pool = daemon.pool?.();
  const running = pool?.workers.filter((w) => w.state !== 'dead' && w.models.length > 0) ?? [];
  const mb = (bytes: number | undefined) => (bytes === undefined ? null : roundTo(bytes / 1048576, 1));
  return {
    count: Math.max(1, running.length),
    engine: running.length ? `tfjs ${pool!.backend} in ${running.length} worker threads` : engine.startsWith('opencv') ? 'opencv in-process, on its own thread pool' : 'tfjs on the main thread',
    crashes: pool?.crashes ?? 0,
    respawns: pool?.respawns ?? 0,
    perWorker: (pool?.workers ?? []).map((w) => ({ index: w.index, state: w.state, threadId: w.threadId ?? null, models: w.models.length, heapMB: mb(w.memory?.heapUsed), externalMB: mb(w.memory?.external), tensors: w.memory?.tensors ?? null, tensorMB: mb(w.memory?.tensorBytes) })),
  };
}

/** One status shape for GET /api/status and the live channel's `status` event. */
export function buildStatus(daemon: DaemonView, hub: ViewerHub, temperature: number | null): DaemonStatus {
  const s = daemon.stats.snapshot();
  const model = daemon.model();
  return {
    source: daemon.source(),
    model: { name: model.name, version: model.version, labels: model.labels.length },
    backend: daemon.backend(),
    engine: model.engine,
    fps: roundTo(s.fps, 1),
    stageMs: Object.fromEntries(Object.entries(s.stageMs).map(([k, v]) => [k, roundTo(v, 1)])),
    latencyMs: roundTo(s.latencyMs, 1),
    frames: { captured: s.captured, classified: s.classified, dropped: s.dropped, encoded: s.encoded },
    clients: { live: hub.count('live'), mjpeg: hub.count('mjpeg') },
    uptimeSeconds: Math.round((Date.now() - daemon.startedAt) / 1000),
    tensors: daemon.tensors(),
    rssMB: Math.round(process.memoryUsage.rss() / 1048576),
    cpuTemperatureC: temperature,
    integrations: daemon.integrations?.(),
    workers: workersStatus(daemon, model.engine),
  };
}

/** Reads the CPU temperature at most every few seconds (status is asked for every second). */
export class TemperatureReader {
  private value: { celsius: number; sensor: string } | null = null;
  private readAt = 0;
  private reading: Promise<void> | undefined;

  /** `thermalRoot`: where the thermal zones are (tests point it at a folder of their own). */
  constructor(private readonly maxAgeMs = 5000, private readonly thermalRoot = '/sys/class/thermal') {}

  current(): number | null {
    return this.currentReading()?.celsius ?? null;
  }

  /** The last reading with its sensor, refreshed in the background once older than maxAgeMs. */
  currentReading(): { celsius: number; sensor: string } | null {
    if (Date.now() - this.readAt > this.maxAgeMs && !this.reading) {
      this.reading = cpuTemperature(this.thermalRoot).then((t) => {
        this.value = t;
        this.readAt = Date.now();
        this.reading = undefined;
      });
    }
    return this.value;
  }

  async fresh(): Promise<number | null> {
    return (await this.freshReading())?.celsius ?? null;
  }

  async freshReading(): Promise<{ celsius: number; sensor: string } | null> {
    this.currentReading();
    await this.reading;
    return this.value;
  }
}
