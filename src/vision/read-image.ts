import { InputFileError } from '../util/errors';
import { cv, type Mat } from './cv';
import { checkImageSize } from './image-header';

/**
 * Decodes an image file from outside (a self-test image, a dataset, `predict`, an images
 * source) on the thread pool, after its header has shown it is not too large to decode.
 * Throws InputFileError naming the file when it is too large or cannot be decoded.
 */
export async function readImageFile(file: string): Promise<Mat> {
  await checkImageSize(file);
  const mat = await cv.imreadAsync(file).catch(() => undefined);
  if (!mat || mat.empty) throw new InputFileError(file, 'not a readable image');
  return mat;
}
