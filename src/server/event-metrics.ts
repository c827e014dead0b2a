import { Counter, Gauge, type Registry } from 'prom-client';
import type { DaemonView } from './daemon-view';

/** /metrics for events, MQTT and webhooks, read from the daemon's integrations status at scrape time. */
export function registerEventMetrics(registry: Registry, daemon: DaemonView): void {
  if (!daemon.integrations) return;
  const read = () => daemon.integrations!();
  const registers = [registry];
  new Counter({
    name: 'edgesight_events_total',
    help: 'Events started, by label (since the daemon started).',
    labelNames: ['label'],
    registers,
    collect() {
      this.reset();
      for (const [label, n] of Object.entries(read().events.byLabel)) this.inc({ label }, n);
    },
  });
  new Gauge({
    name: 'edgesight_events_stored',
    help: 'Events kept on disk, and their bytes.',
    labelNames: ['what'],
    registers,
    collect() {
      const e = read().events;
      this.set({ what: 'events' }, e.stored);
      this.set({ what: 'bytes' }, e.bytes);
    },
  });
  new Gauge({
    name: 'edgesight_mqtt_connected',
    help: '1 while connected to the MQTT broker (0 also when MQTT is off).',
    registers,
    collect() {
      this.set(read().mqtt.connected ? 1 : 0);
    },
  });
  new Counter({
    name: 'edgesight_mqtt_messages_total',
    help: 'MQTT messages published, and event messages dropped while the broker was away (queue full).',
    labelNames: ['outcome'],
    registers,
    collect() {
      const m = read().mqtt;
      this.reset();
      this.inc({ outcome: 'published' }, m.published);
      this.inc({ outcome: 'dropped' }, m.dropped);
    },
  });
  new Counter({
    name: 'edgesight_webhook_deliveries_total',
    help: 'Webhook posts by target and outcome (delivered, failed after all retries, dropped from a full queue).',
    labelNames: ['target', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const w of read().webhooks) {
        this.inc({ target: w.url, outcome: 'delivered' }, w.delivered);
        this.inc({ target: w.url, outcome: 'failed' }, w.failed);
        this.inc({ target: w.url, outcome: 'dropped' }, w.dropped);
      }
    },
  });
}
