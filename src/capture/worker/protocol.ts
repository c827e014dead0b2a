import type { OpenCvSourceOptions } from '../opencv-source';

/**
 * Messages between the capture process and ProcessFrameSource over the IPC channel (advanced
 * serialization, so pixels travel as bytes, not JSON). A frame is tightly packed pixels, rows x
 * cols of `matType`.
 */
export type CaptureOptions = OpenCvSourceOptions;

export type ToCapture =
  /** One more frame wanted: the capture process sends one as soon as it has it (never more than asked for). */
  | { type: 'want' }
  | { type: 'close' };

export interface FrameMessage {
  type: 'frame';
  pixels: Uint8Array;
  rows: number;
  cols: number;
  matType: number;
}

export type FromCapture =
  | { type: 'opened'; description: string; paceFps: number | undefined; onDemand: boolean }
  | { type: 'openFailed'; message: string }
  | FrameMessage
  /** A finite source (a file not looped) has no more frames; sent only after the last frame. */
  | { type: 'ended' }
  /** Reading failed (the capture process then ends): a source fault for the resilient source. */
  | { type: 'failed'; message: string };

/** Bytes per element of an OpenCV type: depth size (CV_8U ... CV_16F) times channels. */
export function elementBytes(matType: number): number {
  const depthBytes = [1, 1, 2, 2, 4, 4, 8, 2][matType & 7];
  return depthBytes * ((matType >> 3) + 1);
}
