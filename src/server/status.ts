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
