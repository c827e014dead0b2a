import { cv, type Mat } from './cv';

/** JPEG-encodes a frame on the libuv thread pool (the main thread keeps classifying). */
export async function encodeJpeg(frame: Mat, quality: number): Promise<Buffer> {
  return cv.imencodeAsync('.jpg', frame, [cv.IMWRITE_JPEG_QUALITY, quality]);
}
