import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { SourceError, errorMessage } from '../../util/errors';
import type { CapturedImage, FrameSource } from '../frame-source';
import { redactUrl, type OpenCvSourceOptions } from '../opencv-source';
import { unpackFrame } from './pixels';
import type { FromCapture, ToCapture } from './protocol';

/**
 * The capture process's script. Tests point it at a wrapper that makes the process crash;
 * production never changes it, so the seam costs nothing.
 */
export const captureProcess = { script: path.join(__dirname, 'capture-process.js') };

interface PendingRead {
  resolve(image: CapturedImage | null): void;
  reject(err: Error): void;
}

/**
 * An OpenCV source (camera, GStreamer, URL, file) opened, read and decoded in its own process
 * (capture-process.ts). open() and read() only wait on messages, so the main thread never blocks
 * on OpenCV, and a process stuck in a native open is killed outright on close. read() resolves
 * with the newest frame the capture process has. The process ending for any reason other than
 * close() fails the read in hand and every later one, which the resilient source treats as a
 * source fault (reconnect with backoff).
 */
export class ProcessFrameSource implements FrameSource {
  readonly kind: OpenCvSourceOptions['kind'];
  description: string;
  paceFps: number | undefined;
  onDemand: boolean;
  private child: ChildProcess | undefined;
  private pending: PendingRead | undefined;
  private failure: Error | undefined;
  private ended = false;
  private closed = false;
  private opened = false;
  /** Rejects an open still running (close() during a slow open). */
  private abortOpen: (() => void) | undefined;

  constructor(private readonly options: OpenCvSourceOptions) {
    this.kind = options.kind;
    this.description = `${options.kind} ${redactUrl(String(options.target))}`;
    // Known before opening: the pipeline sizes its batches from it when it is built.
    this.onDemand = options.kind === 'file' && options.realtime === false;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = fork(captureProcess.script, [], {
        // Pixels as bytes, not JSON; the options by environment so no argument shows a URL's password in ps.
        serialization: 'advanced',
        env: { ...process.env, EDGESIGHT_CAPTURE_SOURCE: JSON.stringify(this.options) },
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.child = child;
      const fail = (err: Error) => {
        this.failure ??= err;
        if (!this.opened) {
          this.opened = true;
          child.kill('SIGKILL');
          reject(this.failure);
        }
        this.settle((p) => p.reject(this.failure!));
      };
      this.abortOpen = () => fail(new SourceError(`${this.description} was closed while opening`));
      child.on('message', (message: FromCapture) => {
        switch (message.type) {
          case 'opened':
            this.opened = true;
            this.description = message.description;
            this.paceFps = message.paceFps;
            this.onDemand = message.onDemand;
            return resolve();
          case 'openFailed':
            return fail(new SourceError(message.message));
          case 'frame': {
            let mat: CapturedImage['mat'];
            try {
              mat = unpackFrame(message);
            } catch (err) {
              return fail(new SourceError(errorMessage(err)));
            }
            return this.settle((p) => p.resolve({ mat }), () => mat.release());
          }
          case 'ended':
            this.ended = true;
            return this.settle((p) => p.resolve(null));
          case 'failed':
            return fail(new SourceError(message.message));
        }
      });
      child.on('error', (err) => fail(new SourceError(`capture process of ${this.description} failed: ${errorMessage(err)}`)));
      child.on('exit', (code, signal) => {
        this.child = undefined;
        if (!this.closed) fail(new SourceError(`capture process of ${this.description} ended (${signal ?? `exit code ${code}`})`));
      });
    });
  }

  read(): Promise<CapturedImage | null> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    if (!this.child) return Promise.reject(new SourceError(`${this.description} is not open`));
    if (this.pending) return Promise.reject(new Error('ProcessFrameSource reads one frame at a time'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.send({ type: 'want' });
    });
  }

  /**
   * Asks the capture process to release its capture and end; one that does not within 2 s (stuck
   * in a native call) or that is still opening (inside OpenCV, deaf to messages) is killed.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.settle((p) => p.reject(new SourceError(`${this.description} was closed`)));
    const child = this.child;
    if (!child) return;
    if (!this.opened) {
      this.abortOpen?.();
      return void child.kill('SIGKILL');
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.send({ type: 'close' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    if (this.child) child.kill('SIGKILL');
  }

  private send(message: ToCapture): void {
    if (this.child?.connected) this.child.send(message);
  }

  /** Hands the outcome to the read in hand; `otherwise` runs when no read waits (a frame nobody asked for is freed). */
  private settle(action: (pending: PendingRead) => void, otherwise?: () => void): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) action(pending);
    else otherwise?.();
  }
}
