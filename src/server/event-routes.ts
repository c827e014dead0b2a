import * as fs from 'node:fs';
import express, { type Request, type Response, type Router } from 'express';
import { readMjpegAvi } from '../events/avi';
import type { EventsAccess } from '../events/views';
import type { DaemonView } from './daemon-view';

const MAX_LIMIT = 500;
/** Clips played at once (each holds its file in memory while it plays). */
const MAX_CLIP_PLAYS = 4;

/**
 * The event history under /api/events (behind the auth gate): list (newest first, paged,
 * filtered by label and start time), one event, its snapshots, delete one or all.
 */
export function eventRoutes(daemon: DaemonView): Router {
  const router = express.Router();
  let playing = 0;
  const log = (res: Response): EventsAccess | undefined => {
    if (daemon.eventLog) return daemon.eventLog;
    res.status(404).json({ error: 'events are off (events.enabled = false)' });
    return undefined;
  };

  router.get('/events', (req, res) => {
    const events = log(res);
    if (!events) return;
    const q = parseQuery(req);
    if (typeof q === 'string') return void res.status(400).json({ error: q });
    res.json({ ...events.list(q), offset: q.offset, limit: q.limit });
  });

  router.delete('/events', (_req, res) => {
    const events = log(res);
    if (!events) return;
    res.json({ deleted: events.deleteAll() });
  });

  router.get('/events/:id', (req, res) => {
    const events = log(res);
    if (!events) return;
    const record = events.get(req.params.id);
    if (!record) return void res.status(404).json({ error: `no event ${req.params.id}` });
    res.json(record);
  });

  for (const [name, kind] of [['snapshot.jpg', 'annotated'], ['raw.jpg', 'raw']] as const) {
    router.get(`/events/:id/${name}`, (req, res) => {
      const events = log(res);
      if (!events) return;
      const file = events.snapshotFile(req.params.id, kind);
      if (!file) return void res.status(404).json({ error: `no ${kind} snapshot for event ${req.params.id}` });
      res.set('Cache-Control', 'private, max-age=3600').type('image/jpeg').sendFile(file);
    });
  }

  router.get('/events/:id/clip.avi', (req, res) => {
    const events = log(res);
    if (!events) return;
    const file = events.snapshotFile(req.params.id, 'clip');
    if (!file) return void res.status(404).json({ error: `no clip for event ${req.params.id}` });
    res.set('Cache-Control', 'private, max-age=3600').type('video/x-msvideo').attachment(`${req.params.id}.avi`).sendFile(file);
  });

  // Browsers do not play AVI: the same JPEGs as a multipart stream, paced at the clip's rate, play in an <img>.
  router.get('/events/:id/clip.mjpg', async (req, res) => {
    const events = log(res);
    if (!events) return;
    const file = events.snapshotFile(req.params.id, 'clip');
    if (!file) return void res.status(404).json({ error: `no clip for event ${req.params.id}` });
    if (playing >= MAX_CLIP_PLAYS) return void res.status(503).set('Retry-After', '5').json({ error: `${MAX_CLIP_PLAYS} clips are playing already; try again shortly` });
    playing++;
    res.on('close', () => playing--);
    const { fps, frames } = readMjpegAvi(await fs.promises.readFile(file));
    const boundary = 'edgesightclip';
    res.writeHead(200, { 'Content-Type': `multipart/x-mixed-replace; boundary=${boundary}`, 'Cache-Control': 'no-store' });
    let closed = false;
    res.on('close', () => (closed = true));
    for (const jpeg of frames) {
      if (closed) return;
      res.write(`--${boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
      res.write(jpeg);
      res.write('\r\n');
      await new Promise((resolve) => setTimeout(resolve, 1000 / fps));
    }
    res.end(`--${boundary}--\r\n`);
  });

  router.delete('/events/:id', (req, res) => {
    const events = log(res);
    if (!events) return;
    if (!events.delete(req.params.id)) return void res.status(404).json({ error: `no event ${req.params.id}` });
    res.json({ deleted: 1 });
  });
  return router;
}

/** label, since/until (ms since the epoch or an ISO 8601 time), offset, limit; or an error message. */
function parseQuery(req: Request): { label?: string; since?: number; until?: number; offset: number; limit: number } | string {
  const q = req.query;
  const label = q.label;
  if (label !== undefined && (typeof label !== 'string' || label.length === 0 || label.length > 200)) return 'query parameter label must be one label';
  const out: { label?: string; since?: number; until?: number; offset: number; limit: number } = { offset: 0, limit: 50 };
  if (typeof label === 'string') out.label = label;
  for (const key of ['since', 'until'] as const) {
    const v = q[key];
    if (v === undefined) continue;
    const t = typeof v === 'string' ? (/^\d+$/.test(v) ? Number(v) : Date.parse(v)) : NaN;
    if (!Number.isFinite(t)) return `query parameter ${key}=${JSON.stringify(v)} must be a time: ms since the epoch or ISO 8601`;
    out[key] = t;
  }
  for (const [key, min, max] of [['offset', 0, Number.MAX_SAFE_INTEGER], ['limit', 1, MAX_LIMIT]] as const) {
    const v = q[key];
    if (v === undefined) continue;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) return `query parameter ${key}=${JSON.stringify(v)} must be an integer from ${min} to ${max}`;
    out[key] = n;
  }
  return out;
}
