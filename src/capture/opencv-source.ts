import * as fs from 'node:fs';
import { errorMessage, SourceError } from '../util/errors';
import { redactUrl } from '../util/redact';
import { cv } from '../vision/cv';
import type { CapturedImage, FrameSource, SourceKind } from './frame-source';
import type { VideoCapture } from '@u4/opencv4nodejs';

export interface CameraRequest {
  width: number;
  height: number;
  fps: number;
  preferMjpeg: boolean;
}

export interface OpenCvSourceOptions {
  kind: Extract<SourceKind, 'camera' | 'gstreamer' | 'url' | 'file'>;
  /** Device path, index, pipeline, URL or file path. */
  target: string | number;
  camera?: CameraRequest;
  /** Files: start again at the end. */
  loop?: boolean;
  /** Files: deliver at the file's own fps (true) or as fast as they are read (false). */
  realtime?: boolean;
  /**
   * Decode on the calling thread instead of the libuv pool. The capture worker sets it: the
   * worker's own thread is there to read, and the pool stays free for the pipeline's resize
   * and JPEG encode.
   */
  syncReads?: boolean;
}

/**
 * Frames through OpenCV's VideoCapture: V4L2 cameras, GStreamer pipelines (the Pi camera via
 * libcamerasrc), RTSP/HTTP streams through FFmpeg, and video files. Reads use readAsync,
 * which decodes on the libuv thread pool while inference runs on the main thread.
 */
export class OpenCvSource implements FrameSource {
  readonly kind: OpenCvSourceOptions['kind'];
  description: string;
  private fps: number | undefined;
  private capture: VideoCapture | undefined;
  paceFps: number | undefined;

  get onDemand(): boolean {
    return this.kind === 'file' && this.options.realtime === false;
  }

  constructor(private readonly options: OpenCvSourceOptions) {
    this.kind = options.kind;
    this.description = `${options.kind} ${redactUrl(String(options.target))}`;
  }

  async open(): Promise<void> {
    const { kind, target } = this.options;
    const api = kind === 'gstreamer' ? cv.CAP_GSTREAMER : kind === 'camera' ? cv.CAP_V4L2 : kind === 'url' ? cv.CAP_FFMPEG : cv.CAP_ANY;
    if (kind === 'file' && !fs.existsSync(String(target))) throw new SourceError(`cannot open ${this.description}: no such file`);
    let capture: VideoCapture;
    try {
      capture = new cv.VideoCapture(typeof target === 'string' && /^\d+$/.test(target) ? Number(target) : target, api);
    } catch (err) {
      throw new SourceError(`cannot open ${this.description}: ${errorMessage(err)} (tried OpenCV ${apiName(api)})`);
    }
    if (kind === 'camera' && this.options.camera) configureCamera(capture, this.options.camera);
    // Some devices open but never deliver (V4L2 metadata nodes, a busy camera): read one frame.
    const first = await this.decode(capture).catch(() => undefined);
    if (!first || first.empty) {
      capture.release();
      throw new SourceError(`cannot read from ${this.description} (tried OpenCV ${apiName(api)}${kind === 'file' ? '; is it a video file OpenCV can decode?' : ''})`);
    }
    this.firstFrame = first;
    this.capture = capture;
    const fps = capture.get(cv.CAP_PROP_FPS);
    this.fps = fps > 0 && fps < 1000 ? fps : undefined;
    if (kind === 'file') {
      this.paceFps = this.options.realtime === false ? undefined : this.fps ?? 25;
    }
    const fourcc = fourccName(capture.get(cv.CAP_PROP_FOURCC));
    this.description = `${kind} ${redactUrl(String(target))} (${apiName(api)}${fourcc ? ', ' + fourcc : ''} ${first.cols}x${first.rows}${this.fps ? ` @${Math.round(this.fps * 10) / 10}` : ''})`;
  }

  private firstFrame: import('@u4/opencv4nodejs').Mat | undefined;

  async read(): Promise<CapturedImage | null> {
    const capture = this.capture;
    if (!capture) throw new SourceError(`${this.description} is not open`);
    if (this.firstFrame) {
      const mat = this.firstFrame;
      this.firstFrame = undefined;
      return { mat };
    }
    const mat = await this.decode(capture);
    if (mat.empty && this.kind === 'file' && this.options.loop !== false) {
      // Loop by reopening the path rather than seeking: a file replaced or removed meanwhile
      // is noticed (and seeking is inexact for some codecs). open() reads the first frame.
      capture.release();
      this.capture = undefined;
      await this.open();
      return this.read();
    }
    if (mat.empty) {
      if (this.kind === 'file') return null;
      throw new SourceError(`${this.description} stopped delivering frames`);
    }
    return { mat };
  }

  private async decode(capture: VideoCapture): Promise<import('@u4/opencv4nodejs').Mat> {
    return this.options.syncReads ? capture.read() : capture.readAsync();
  }

  async close(): Promise<void> {
    this.capture?.release();
    this.capture = undefined;
  }
}

function configureCamera(capture: VideoCapture, req: CameraRequest): void {
  // The order matters for V4L2: pixel format first, then size, then rate.
  if (req.preferMjpeg) capture.set(cv.CAP_PROP_FOURCC, cv.VideoWriter.fourcc('MJPG'));
  capture.set(cv.CAP_PROP_FRAME_WIDTH, req.width);
  capture.set(cv.CAP_PROP_FRAME_HEIGHT, req.height);
  capture.set(cv.CAP_PROP_FPS, req.fps);
  // Keep only the newest frame in the driver: stale frames add latency, never information.
  capture.set(cv.CAP_PROP_BUFFERSIZE, 1);
}

function apiName(api: number): string {
  if (api === cv.CAP_GSTREAMER) return 'GStreamer';
  if (api === cv.CAP_V4L2) return 'V4L2';
  if (api === cv.CAP_FFMPEG) return 'FFmpeg';
  return 'any backend';
}

function fourccName(code: number): string {
  if (!code || code < 0) return '';
  const s = String.fromCharCode(code & 255, (code >> 8) & 255, (code >> 16) & 255, (code >> 24) & 255);
  return /^[\x20-\x7e]{4}$/.test(s) ? s.trim() : '';
}

/** rtsp://user:secret@host/... -> rtsp://user:***@host/... so credentials never reach a log. */
export { redactUrl };
