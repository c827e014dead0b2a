import * as fs from 'node:fs';
import { InputFileError } from '../util/errors';

/**
 * The largest image edgesight decodes from outside (self-test images, datasets, predict):
 * 40 megapixels, 120 MB as 8-bit BGR, above any Pi camera (12 MP) and most phones. A decoded
 * image costs width x height x channels bytes whatever its file size: a 279 KB PNG of
 * 16000x16000 decodes to 768 MB, the service's whole memory cap.
 */
export const MAX_IMAGE_PIXELS = 40_000_000;

export interface ImageSize {
  format: 'png' | 'jpeg' | 'bmp' | 'gif' | 'webp';
  width: number;
  height: number;
}

/** How far into a file the size is looked for: JPEG's frame header may follow a large EXIF block. */
const HEADER_SCAN_BYTES = 512 * 1024;

/**
 * An image's dimensions from its header, without decoding it; undefined when the format is
 * not one of PNG, JPEG, BMP, GIF or WebP, or the header is cut short. OpenCV is told the same
 * limit (OPENCV_IO_MAX_IMAGE_PIXELS, see cv.ts) for every format it reads, this included.
 */
export async function readImageSize(file: string): Promise<ImageSize | undefined> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const head = Buffer.alloc(HEADER_SCAN_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return imageSizeOf(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** The dimensions in an image file's first bytes (see readImageSize). */
export function imageSizeOf(b: Buffer): ImageSize | undefined {
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.toString('latin1', 12, 16) === 'IHDR') {
    return { format: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegSize(b);
  if (b.length >= 26 && b.toString('latin1', 0, 2) === 'BM') {
    // BITMAPINFOHEADER and later: signed 32-bit width and height (negative height = top-down).
    return { format: 'bmp', width: Math.abs(b.readInt32LE(18)), height: Math.abs(b.readInt32LE(22)) };
  }
  if (b.length >= 10 && (b.toString('latin1', 0, 6) === 'GIF87a' || b.toString('latin1', 0, 6) === 'GIF89a')) {
    return { format: 'gif', width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  }
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return webpSize(b);
  return undefined;
}

/** Walks JPEG segments to the first start-of-frame marker (SOF0..SOF15 except DHT, JPG, DAC). */
function jpegSize(b: Buffer): ImageSize | undefined {
  let at = 2;
  while (at + 9 < b.length) {
    if (b[at] !== 0xff) return undefined;
    const marker = b[at + 1];
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2; // markers without a length
      continue;
    }
    const length = b.readUInt16BE(at + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { format: 'jpeg', height: b.readUInt16BE(at + 5), width: b.readUInt16BE(at + 7) };
    }
    if (length < 2) return undefined;
    at += 2 + length;
  }
  return undefined;
}

function webpSize(b: Buffer): ImageSize | undefined {
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8X') return { format: 'webp', width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
  if (chunk === 'VP8 ') return { format: 'webp', width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  if (chunk === 'VP8L') {
    const bits = b.readUInt32LE(21);
    return { format: 'webp', width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
  }
  return undefined;
}

/**
 * Refuses, naming the file and its size, an image whose header says it is larger than
 * MAX_IMAGE_PIXELS, before anything decodes it. Formats without a header read here pass on
 * to OpenCV, which applies the same limit itself.
 */
export async function checkImageSize(file: string, maxPixels = MAX_IMAGE_PIXELS): Promise<void> {
  let size: ImageSize | undefined;
  try {
    size = await readImageSize(file);
  } catch (err) {
    throw new InputFileError(file, `cannot be read: ${(err as Error).message}`);
  }
  if (size && size.width * size.height > maxPixels) {
    throw new InputFileError(file, `is a ${size.width}x${size.height} ${size.format.toUpperCase()} (${Math.round((size.width * size.height) / 1e6)} megapixels); images over ${maxPixels / 1e6} megapixels are refused before decoding`);
  }
}
