import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DaemonView } from './daemon-view';
import { registerEventMetrics } from './event-metrics';
import type { ViewerHub } from './viewer-hub';

/**
 * GET /metrics in Prometheus text format. Pipeline counters are read from the pipeline's own
 * stats at scrape time (nothing is counted twice); inference time is a histogram fed per
 * classified frame. One registry per server, so several servers in one process (tests) do
 * not collide.
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly inferSeconds: Histogram;
  private readonly unsubscribe: () => void;

  constructor(daemon: DaemonView, hub: ViewerHub) {
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
      name: 'edgesight_fps',
      help: 'Classified frames per second (recent).',
      registers,
      collect() {
        this.set(daemon.stats.fps());
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
    registerEventMetrics(this.registry, daemon);
    this.unsubscribe = daemon.feed.events.on('result', (r) => this.inferSeconds.observe(r.timings.infer / 1000));
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.unsubscribe();
    this.registry.clear();
  }
}
