import { cv, type Mat } from '../../vision/cv';
import { elementBytes, type FrameMessage } from './protocol';

/** Keeps a Mat's pixel memory reachable for as long as the Mat object is. */
const PIXELS = Symbol('pixels');

/**
 * Capture side: the decoded pixels, tightly packed, for the IPC channel. One copy here
 * (getData); the channel copies through the pipe. Threads would avoid both, but the binding is
 * not context-aware: once a worker thread loads it, the main thread's Mat checks fail
 * (copyTo, imencode: "expected argument 0 to be of type Mat"), so capture is a process.
 */
export function packFrame(mat: Mat): FrameMessage {
  return { type: 'frame', pixels: mat.getData(), rows: mat.rows, cols: mat.cols, matType: mat.type };
}

/**
 * Main side: a Mat over the received pixels, without a copy. The binding neither copies nor
 * checks the length with the (rows, cols, type, buffer) constructor, so a wrong size would read
 * past the end: it is checked here. The Buffer is pinned to the Mat so the memory lives as long
 * as the Mat object.
 */
export function unpackFrame(message: FrameMessage): Mat {
  const { rows, cols, matType, pixels } = message;
  const expected = rows * cols * elementBytes(matType);
  if (!(rows > 0 && cols > 0) || pixels.byteLength !== expected) {
    throw new Error(`capture process sent ${pixels.byteLength} bytes for a ${cols}x${rows} frame of type ${matType} (expected ${expected})`);
  }
  // Advanced serialization delivers a Uint8Array; view it as a Buffer without copying.
  const bytes = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const mat = new cv.Mat(rows, cols, matType, bytes);
  Object.defineProperty(mat, PIXELS, { value: bytes });
  return mat;
}
