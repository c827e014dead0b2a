import { io, type Socket } from 'socket.io-client';
import { whenConnected } from '../../src/bench/viewer';

export interface ReceivedFrame {
  meta: {
    seq: number;
    capturedAt: number;
    decidedAt: number;
    sentAt: number;
    label: string;
    confidence: number;
    uncertain: boolean;
    topk: Array<{ label: string; confidence: number }>;
    timings: Record<string, number>;
    truth?: string;
  };
  jpeg: Buffer;
  receivedAt: number;
  ackedAt?: number;
}

/**
 * A real socket.io client that records the frames it gets and acknowledges each one after
 * `ackDelayMs` (0: at once, like a fast viewer; 1000: a phone on a bad link).
 */
export class LiveClient {
  readonly socket: Socket;
  readonly frames: ReceivedFrame[] = [];
  hello: Record<string, unknown> | undefined;
  /** Frames received while an earlier one was still unacknowledged (flow control broken if > 0). */
  overlapping = 0;
  private unacked = 0;

  constructor(base: string, auth: Record<string, unknown>, readonly ackDelayMs = 0, extraHeaders?: Record<string, string>) {
    this.socket = io(base, { auth, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders });
    this.socket.on('hello', (hello) => (this.hello = hello));
    this.socket.on('frame', (meta: ReceivedFrame['meta'], jpeg: Buffer, ack: () => void) => {
      const frame: ReceivedFrame = { meta, jpeg, receivedAt: Date.now() };
      if (this.unacked > 0) this.overlapping++;
      this.unacked++;
      this.frames.push(frame);
      const done = () => {
        this.unacked--;
        frame.ackedAt = Date.now();
        ack();
      };
      if (this.ackDelayMs > 0) setTimeout(done, this.ackDelayMs);
      else done();
    });
  }

  connected(): Promise<void> {
    return whenConnected(this.socket);
  }

  close(): void {
    this.socket.close();
  }
}
