import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { EDGESIGHT_VERSION } from '../util/version';
import type { Authenticator } from './auth';
import type { DaemonView } from './daemon-view';
import { registerEventMetrics } from './event-metrics';
import type { TemperatureReader } from './status';
import type { ViewerHub } from './viewer-hub';

/**
 * GET /metrics in Prometheus text format. Pipeline counters are read from the pipeline's own
 * stats at scrape time (nothing is counted twice); inference time is a histogram fed per
 * classified frame; source, model and sign-in counters count the daemon's events. Rates
 * (frames/s, reconnects per hour) are Prometheus's to compute from the counters with rate(),
 * so no gauge holds one. One registry per server, so several servers in one process (tests)
 * do not collide.
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly inferSeconds: Histogram;
  private readonly unsubscribe: Array<() => void>;

  constructor(daemon: DaemonView, hub: ViewerHub, auth: Authenticator, temperature: TemperatureReader) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter('edgesight_frames_captured_total', 'Frames read from the source.', () => daemon.stats.captured);
    counter('edgesight_frames_classified_total', 'Frames classified.', () => daemon.stats.classified);
    counter('edgesight_frames_dropped_total', 'Frames skipped because a newer one arrived before classification.', () => daemon.stats.dropped);
    counter('edgesight_frames_encoded_total', 'Annotated frames encoded as JPEG for viewers.', () => daemon.stats.encoded);
    this.inferSeconds = new Histogram({
      name: 'edgesight_inference_seconds',
      help: 'Model inference time per classified frame.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
      registers,
    });
    new Gauge({
      name: 'edgesight_clients',
      help: 'Connected viewers by kind (live: socket.io, mjpeg: /stream.mjpg).',
      labelNames: ['kind'],
      registers,
      collect() {
        this.set({ kind: 'live' }, hub.count('live'));
        this.set({ kind: 'mjpeg' }, hub.count('mjpeg'));
      },
    });
    new Gauge({
      name: 'edgesight_tensors',
      help: 'Live TensorFlow.js tensors (flat on a healthy daemon).',
      registers,
      collect() {
        this.set(daemon.tensors());
      },
    });
    new Gauge({
      name: 'edgesight_model_info',
      help: 'The model being served (always 1; the labels carry name and version).',
      labelNames: ['name', 'version', 'backend'],
      registers,
      collect() {
        const m = daemon.model();
        this.reset();
        this.set({ name: m.name, version: m.version, backend: daemon.backend() }, 1);
      },
    });
    new Gauge({
      name: 'edgesight_build_info',
      help: 'The edgesight and Node.js versions running (always 1; the labels carry them).',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: EDGESIGHT_VERSION, node: process.version }, 1);
    new Gauge({
      name: 'edgesight_cpu_temperature_celsius',
      help: 'CPU temperature, by the thermal zone it is read from (absent where the machine has none).',
      labelNames: ['sensor'],
      registers,
      async collect() {
        const reading = await temperature.freshReading();
        this.reset();
        if (reading) this.set({ sensor: reading.sensor }, reading.celsius);
      },
    });
    new Counter({
      name: 'edgesight_signin_refusals_total',
      help: 'Sign-ins refused: a wrong token or password (reason="wrong"), or any attempt from an address blocked after too many (reason="blocked").',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        this.inc({ reason: 'wrong' }, auth.refusedSignIns.wrong);
        this.inc({ reason: 'blocked' }, auth.refusedSignIns.blocked);
      },
    });
    const reconnectAttempts = new Counter({ name: 'edgesight_source_reconnect_attempts_total', help: 'Attempts to reopen a lost source.', registers });
    const reconnects = new Counter({ name: 'edgesight_source_reconnects_total', help: 'Times a lost source was reopened and frames came again.', registers });
    const swaps = new Counter({ name: 'edgesight_model_swaps_total', help: 'Model packages swapped in while running (hand-offs and rollbacks).', registers });
    const refusals = new Counter({ name: 'edgesight_model_refusals_total', help: 'Model packages refused (the running model kept serving).', registers });
    registerEventMetrics(this.registry, daemon);
    let wasReconnecting = false;
    this.unsubscribe = [
      daemon.feed.events.on('result', (r) => this.inferSeconds.observe(r.timings.infer / 1000)),
      daemon.feed.events.on('source', (status) => {
        if (status.state === 'reconnecting') reconnectAttempts.inc();
        else if (status.state === 'open' && wasReconnecting) reconnects.inc();
        wasReconnecting = status.state === 'reconnecting';
      }),
      daemon.events.on('model', () => swaps.inc()),
      daemon.events.on('modelRejected', () => refusals.inc()),
    ];
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const off of this.unsubscribe) off();
    this.registry.clear();
  }
}
