import { io, type Socket } from 'socket.io-client';
import { SampleSet } from './samples';

interface FrameMeta {
  capturedAt: number;
  sentAt: number;
}

/** Resolves on connect, rejects with the server's reason on connect_error. */
export function whenConnected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
}

/**
 * A dashboard viewer as the benchmark sees it: a real socket.io client on loopback that
 * acknowledges each frame at once (a fast viewer) or after `ackDelayMs` (a phone on a bad
 * link), and records for each frame the time from capture and from sending to its arrival.
 */
export class BenchViewer {
  readonly latency = new SampleSet(16_384);
  readonly send = new SampleSet(16_384);
  frames = 0;
  private readonly socket: Socket;

  constructor(base: string, token: string, readonly ackDelayMs = 0) {
    this.socket = io(base, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket.on('frame', (meta: FrameMeta, _jpeg: Buffer, ack: () => void) => {
      const now = Date.now();
      this.frames++;
      this.latency.add(now - meta.capturedAt);
      this.send.add(now - meta.sentAt);
      if (this.ackDelayMs > 0) setTimeout(ack, this.ackDelayMs);
      else ack();
    });
  }

  connected(): Promise<void> {
    return whenConnected(this.socket);
  }

  /** Asks the daemon to stop (true) or restart (false) sending frames, as the dashboard's pause button does. */
  setPaused(paused: boolean): void {
    this.socket.emit(paused ? 'pause' : 'resume');
  }

  reset(): void {
    this.frames = 0;
    this.latency.clear();
    this.send.clear();
  }

  close(): void {
    this.socket.close();
  }
}
