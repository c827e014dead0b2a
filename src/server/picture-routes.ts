import express, { type Response, type Router } from 'express';
import type { EncodedFrame } from '../pipeline/pipeline';
import type { DaemonView } from './daemon-view';
import type { Viewer, ViewerHub } from './viewer-hub';
import type { ViewerSeats } from './viewer-seats';

const BOUNDARY = 'edgesightframe';
/** A snapshot reuses the newest encoded frame when it is this fresh. */
const SNAPSHOT_FRESH_MS = 500;
const SNAPSHOT_WAIT_MS = 5000;

/**
 * GET /stream.mjpg (multipart MJPEG for VLC, Home Assistant, <img>) and GET /snapshot.jpg.
 * Both are hub viewers under the same flow rule as live clients: an MJPEG client gets the next
 * frame only once the socket has taken the last one (write() accepted it, or 'drain').
 */
export function pictureRoutes(daemon: DaemonView, hub: ViewerHub, seats: ViewerSeats): Router {
  const router = express.Router();

  router.get('/stream.mjpg', (req, res) => {
    const releaseSeat = seats.take();
    if (!releaseSeat) {
      res.status(503).set('Retry-After', '10').json({ error: seats.refusal });
      return;
    }
    res.writeHead(200, {
      'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
      'Cache-Control': 'no-store, no-cache, must-revalidate',
      Pragma: 'no-cache',
      Connection: 'close',
    });
    // The head goes out now, not with the first frame: a client sees it was admitted even while
    // no frame flows (the source reconnecting), instead of waiting on a silent socket.
    res.flushHeaders();
    const viewer: Viewer = {
      kind: 'mjpeg',
      deliver: (frame) => {
        res.write(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${frame.jpeg.length}\r\nX-Sequence: ${frame.result.seq}\r\n\r\n`);
        res.write(frame.jpeg);
        if (res.write('\r\n')) hub.taken(viewer);
        else res.once('drain', () => hub.taken(viewer));
      },
    };
    hub.add(viewer);
    const gone = () => {
      hub.remove(viewer);
      releaseSeat();
    };
    req.on('close', gone);
    res.on('close', gone);
    res.on('error', gone);
  });

  router.get('/snapshot.jpg', (req, res) => {
    const latest = hub.latest;
    if (latest && Date.now() - latest.result.decidedAt < SNAPSHOT_FRESH_MS) return void sendJpeg(res, latest);
    // Nobody is watching (or only slow viewers): ask for the next frame to be encoded.
    const viewer: Viewer = {
      kind: 'snapshot',
      deliver: (frame) => {
        finish();
        sendJpeg(res, frame);
      },
    };
    const timer = setTimeout(() => {
      finish();
      const source = daemon.source();
      res.status(503).json({ error: `no frame within ${SNAPSHOT_WAIT_MS / 1000} s (source ${source.description} is ${source.state}${source.error ? ': ' + source.error : ''})` });
    }, SNAPSHOT_WAIT_MS);
    const finish = () => {
      clearTimeout(timer);
      hub.remove(viewer);
    };
    req.on('close', finish);
    hub.add(viewer);
  });
  return router;
}

function sendJpeg(res: Response, frame: EncodedFrame): void {
  res
    .status(200)
    .type('image/jpeg')
    .set({ 'Cache-Control': 'no-store', 'Content-Disposition': `inline; filename="edgesight-${frame.result.seq}.jpg"`, 'X-Sequence': String(frame.result.seq) })
    .send(frame.jpeg);
}
