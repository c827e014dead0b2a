import { createHmac, randomUUID } from 'node:crypto';
import { ConfigError, errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { BoundedQueue } from './bounded-queue';
import type { EventMessage } from './model';

export interface WebhookSettings {
  urls: string[];
  secret: string;
  snapshot: boolean;
  timeoutMs: number;
  retries: number;
  queueSize: number;
  /** First wait between attempts; doubles each time (capped at 60 s). */
  backoffMs?: number;
}

interface Delivery {
  body: string;
  phase: string;
  eventId: string;
}

/** One URL with its own queue and counters. */
class Target {
  delivered = 0;
  failed = 0;
  lastError: string | null = null;
  readonly queue: BoundedQueue<Delivery>;

  constructor(
    readonly url: string,
    /** Origin only: a URL's path or query may hold a secret (Slack, Discord hooks). */
    readonly name: string,
    private readonly settings: WebhookSettings,
    private readonly abort: AbortSignal,
    private readonly log: Logger,
  ) {
    this.queue = new BoundedQueue<Delivery>(settings.queueSize, (d) => this.deliver(d), (d) => log.warn({ target: name, event: d.eventId }, `webhook ${name}: queue full, oldest post dropped`));
  }

  private async deliver(d: Delivery): Promise<void> {
    const { settings } = this;
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'edgesight', 'X-Edgesight-Event': d.phase, 'X-Edgesight-Delivery': randomUUID() };
    if (settings.secret) headers['X-Edgesight-Signature'] = `sha256=${createHmac('sha256', settings.secret).update(d.body).digest('hex')}`;
    let wait = settings.backoffMs ?? 1000;
    for (let attempt = 0; attempt <= settings.retries; attempt++) {
      if (this.abort.aborted) return;
      if (attempt > 0) {
        await sleep(wait, this.abort);
        wait = Math.min(wait * 2, 60_000);
        if (this.abort.aborted) return;
      }
      let why: string;
      let retry = true;
      try {
        const res = await fetch(this.url, { method: 'POST', headers, body: d.body, redirect: 'error', signal: AbortSignal.any([AbortSignal.timeout(settings.timeoutMs), this.abort]) });
        // The answer's body is not wanted; drain it so the connection is freed.
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.delivered++;
          this.lastError = null;
          return;
        }
        why = `HTTP ${res.status}`;
        retry = res.status >= 500 || res.status === 429 || res.status === 408;
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        why = e.name === 'TimeoutError' ? `no answer within ${settings.timeoutMs} ms` : e.cause?.code ?? errorMessage(err);
      }
      this.lastError = why;
      if (!retry || attempt === settings.retries) {
        this.failed++;
        this.log.warn({ target: this.name, event: d.eventId, attempts: attempt + 1, err: why }, `webhook ${this.name}: delivery failed (${why})`);
        return;
      }
      this.log.debug({ target: this.name, attempt: attempt + 1, err: why }, 'webhook: retrying');
    }
  }
}

/** Parses and checks webhooks.urls (exit 2 naming the key on a mistake). */
export function parseWebhookUrls(text: string): string[] {
  const urls = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const u of urls) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new ConfigError(`config: webhooks.urls: ${JSON.stringify(u)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`config: webhooks.urls: ${JSON.stringify(url.origin)} must be http:// or https://`);
  }
  return urls;
}

/**
 * POSTs each event record (start and end) to every configured URL, each URL with its own
 * bounded queue and one delivery at a time: a target that hangs, refuses or fails holds up
 * only its own queue, whose oldest posts are dropped (and counted) when it is full.
 */
export class WebhookSink {
  private readonly targets: Target[];
  private readonly abort = new AbortController();

  constructor(
    private readonly settings: WebhookSettings,
    private readonly deviceId: string,
    log: Logger,
  ) {
    this.targets = settings.urls.map((url, i) => new Target(url, `#${i + 1} ${new URL(url).origin}`, settings, this.abort.signal, log));
  }

  event(message: EventMessage, snapshot?: () => Buffer | undefined): void {
    if (!this.targets.length) return;
    const body: Record<string, unknown> = { phase: message.phase, device: this.deviceId, event: message.event };
    if (this.settings.snapshot && message.phase === 'end') {
      const jpeg = snapshot?.();
      if (jpeg) body.snapshot = { contentType: 'image/jpeg', base64: jpeg.toString('base64') };
    }
    const text = JSON.stringify(body);
    for (const t of this.targets) t.queue.push({ body: text, phase: message.phase, eventId: message.event.id });
  }

  status(): Array<{ url: string; delivered: number; failed: number; dropped: number; queued: number; lastError: string | null }> {
    return this.targets.map((t) => ({ url: t.name, delivered: t.delivered, failed: t.failed, dropped: t.queue.dropped, queued: t.queue.length, lastError: t.lastError }));
  }

  idle(): Promise<void> {
    return Promise.all(this.targets.map((t) => t.queue.idle())).then(() => undefined);
  }

  /** Abandons waiting posts and cuts the one in flight. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.targets.map((t) => t.queue.close()));
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
