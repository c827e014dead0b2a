import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { EncodedFrame } from '../pipeline/pipeline';
import type { RuntimeSettings } from '../pipeline/runtime-settings';
import { DatasetRequestError, errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import type { Authenticator } from './auth';
import type { DaemonView } from './daemon-view';
import { HandshakeGate, type EngineConnection } from './handshake-gate';
import { buildStatus, type TemperatureReader } from './status';
import type { Viewer, ViewerHub } from './viewer-hub';
import type { ViewerSeats } from './viewer-seats';
import { toRecord, type PredictionRecord } from './wire';

export interface LiveChannelOptions {
  daemon: DaemonView;
  hub: ViewerHub;
  auth: Authenticator;
  temperature: TemperatureReader;
  allowedOrigins: readonly string[];
  /** server.maxViewers, shared with the MJPEG stream. */
  seats: ViewerSeats;
  log: Logger;
}

/** Largest message a client may send (acks, pause, clock): small, so nobody can fill memory. */
const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024;
const STATUS_EVERY_MS = 1000;
const PREDICTIONS_ROOM = 'predictions';

/**
 * The socket.io live channel (its events are the public API documented in docs/api.md):
 *   hello      once, on connect: model, source, backend, settings, serverTime
 *   frame      (meta, jpeg Buffer, ack): one annotated frame; the next comes only after ack
 *   prediction every classified frame, for clients that connect with auth.predictions = true
 *   status     every second: fps, stage times, latency, counters, clients
 *   source     the source opened, ended or failed
 *   settings   runtime settings changed
 *   model      a new model is serving (hand-off or rollback)
 *   modelRejected  a new model package was refused; the old one keeps serving
 *   dataset    the dataset changed: {type: sample|job|full|changed, ...} (full: capture stopped for space)
 * Clients send `pause` / `resume` (stop and restart frames), `clock` (ack with server time),
 * `capture` ({label, count?, everySeconds?}, ack): as POST /api/dataset/samples, the ack gets
 * {job, samples} or {error, status}; and `captureStop` (ack gets {job}).
 */
export class LiveChannel {
  readonly io: Server;
  private readonly statusTimer: NodeJS.Timeout;
  private readonly unsubscribe: Array<() => void> = [];
  private lastFrame: { frame: EncodedFrame; meta: PredictionRecord & { sentAt: number } } | undefined;

  constructor(httpServer: HttpServer, private readonly options: LiveChannelOptions) {
    const { daemon, auth, allowedOrigins, seats } = options;
    const maxViewers = seats.max;
    // More clients signing in at once than could ever be let in (maxViewers) need no session yet;
    // a few times that from all addresses bounds what strangers can hold (~20 KB each).
    const gate = new HandshakeGate({ auth, allowedOrigins, maxUnauthenticatedPerAddress: maxViewers, maxUnauthenticated: 4 * maxViewers });
    this.io = new Server(httpServer, {
      // The client bundle is served by express behind the auth gate instead.
      serveClient: false,
      maxHttpBufferSize: MAX_CLIENT_MESSAGE_BYTES,
      allowRequest: (req, callback) => gate.allowRequest(req, callback),
      pingInterval: 10_000,
      pingTimeout: 10_000,
    });
    this.io.engine.on('connection', (conn: EngineConnection) => gate.opened(conn));
    this.io.use((socket, next) => {
      const result = auth.check(socket.request, (socket.handshake.auth as Record<string, unknown>)?.token);
      if (!result.ok) {
        const message = result.reason === 'blocked' ? `too many failed sign-ins; try again in ${result.retryAfterSeconds} s` : result.reason === 'wrong' ? 'wrong token' : 'unauthorized: pass the token as auth.token';
        return next(new Error(message));
      }
      gate.signedIn(socket.conn.request);
      const releaseSeat = seats.take();
      if (!releaseSeat) return next(new Error(seats.refusal));
      // The engine connection's close always comes, whether or not the socket got to connect.
      socket.conn.once('close', releaseSeat);
      socket.once('disconnect', releaseSeat);
      next();
    });
    this.io.on('connection', (socket) => this.onConnection(socket));

    this.unsubscribe.push(
      daemon.feed.events.on('source', (status) => this.io.emit('source', status)),
      daemon.events.on('model', (model) => this.io.emit('model', model)),
      daemon.events.on('modelRejected', (rejected) => this.io.emit('modelRejected', rejected)),
      daemon.events.on('dataset', (notice) => this.io.emit('dataset', notice)),
      daemon.events.on('event', (message) => this.io.emit('event', message)),
      daemon.events.on('settings', (settings) => this.io.emit('settings', settings)),
    );
    this.statusTimer = setInterval(() => {
      if (this.io.of('/').sockets.size === 0) return;
      this.io.volatile.emit('status', buildStatus(daemon, options.hub, options.temperature.current()));
    }, STATUS_EVERY_MS);
    this.statusTimer.unref();
  }

  /** Sends one classified frame's record to the clients that asked for every prediction. */
  sendPrediction(record: PredictionRecord): void {
    const room = this.io.sockets.adapter.rooms.get(PREDICTIONS_ROOM);
    // volatile: a client whose connection is backed up misses predictions instead of queueing them.
    if (room && room.size > 0) this.io.to(PREDICTIONS_ROOM).volatile.emit('prediction', record);
  }

  announceSettings(settings: RuntimeSettings): void {
    this.io.emit('settings', settings);
  }

  async close(): Promise<void> {
    clearInterval(this.statusTimer);
    for (const off of this.unsubscribe) off();
    this.io.disconnectSockets(true);
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
  }

  /**
   * A frame's metadata, made once however many viewers it goes to (its timings include the
   * encode). The hub hands a frame to every ready viewer in one pass, so one sentAt is true for all.
   */
  private metaOf(frame: EncodedFrame): PredictionRecord & { sentAt: number } {
    if (this.lastFrame?.frame !== frame) this.lastFrame = { frame, meta: { ...toRecord(frame.result), sentAt: Date.now() } };
    return this.lastFrame.meta;
  }

  private onConnection(socket: Socket): void {
    const { daemon, hub, log } = this.options;
    const auth = socket.handshake.auth as Record<string, unknown>;
    const viewer: Viewer = {
      kind: 'live',
      deliver: (frame) => socket.emit('frame', this.metaOf(frame), frame.jpeg, () => hub.taken(viewer)),
    };
    socket.emit('hello', {
      serverTime: Date.now(),
      model: daemon.model(),
      source: daemon.source(),
      backend: daemon.backend(),
      settings: daemon.settings(),
    });
    if (auth.predictions === true) void socket.join(PREDICTIONS_ROOM);
    // A client that wants only predictions (auth.frames = false) costs no encoding.
    if (auth.frames !== false) hub.add(viewer);
    // The first status now rather than at the next tick, so a new page has numbers at once.
    socket.emit('status', buildStatus(daemon, hub, this.options.temperature.current()));
    socket.on('pause', () => hub.setPaused(viewer, true));
    socket.on('resume', () => hub.setPaused(viewer, false));
    socket.on('clock', (callback: unknown) => {
      if (typeof callback === 'function') callback(Date.now());
    });
    socket.on('capture', (request: unknown, callback: unknown) => {
      const reply = typeof callback === 'function' ? (callback as (answer: unknown) => void) : () => undefined;
      daemon.dataset.capture(request, `live client ${this.options.auth.addresses.of(socket.request)}`).then(
        (outcome) => reply(outcome),
        (err: unknown) => {
          if (err instanceof DatasetRequestError) reply({ error: err.message, status: err.status });
          else {
            log.error({ err: errorMessage(err) }, 'capture from a live client failed');
            reply({ error: 'internal error', status: 500 });
          }
        },
      );
    });
    socket.on('captureStop', (callback: unknown) => {
      const job = daemon.dataset.stopCapture() ?? null;
      if (typeof callback === 'function') callback({ job });
    });
    socket.on('disconnect', () => hub.remove(viewer));
    log.debug({ id: socket.id, address: this.options.auth.addresses.of(socket.request) }, 'live client connected');
  }
}
