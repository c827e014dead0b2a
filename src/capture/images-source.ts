import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorMessage, SourceError } from '../util/errors';
import type { Mat } from '../vision/cv';
import { readImageFile } from '../vision/read-image';
import type { CapturedImage, FrameSource } from './frame-source';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.pgm', '.ppm'];

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/**
 * A folder of images played in natural name order (2.png before 10.png) at a set rate.
 * An image that cannot be decoded is skipped with a warning through `onSkip`, not fatal.
 */
export class ImagesSource implements FrameSource {
  readonly kind = 'images' as const;
  readonly description: string;
  private files: string[] = [];
  private index = 0;
  readonly paceFps: number;

  constructor(
    private readonly folder: string,
    fps: number,
    private readonly loop: boolean,
    private readonly onSkip: (file: string, reason: string) => void = () => {},
  ) {
    this.description = `images ${folder} @${fps}`;
    this.paceFps = fps;
  }

  async open(): Promise<void> {
    if (!fs.existsSync(this.folder) || !fs.statSync(this.folder).isDirectory()) {
      throw new SourceError(`cannot open images ${this.folder}: not a folder`);
    }
    const collator = new Intl.Collator(undefined, { numeric: true });
    this.files = fs.readdirSync(this.folder).filter(isImageFile).sort(collator.compare).map((f) => path.join(this.folder, f));
    if (this.files.length === 0) throw new SourceError(`cannot open images ${this.folder}: no ${IMAGE_EXTENSIONS.join('/')} files in it`);
  }

  async read(): Promise<CapturedImage | null> {
    for (let attempts = 0; attempts < this.files.length; attempts++) {
      if (this.index >= this.files.length) {
        if (!this.loop) return null;
        this.index = 0;
      }
      const file = this.files[this.index++];
      let mat: Mat;
      try {
        mat = await readImageFile(file);
      } catch (err) {
        this.onSkip(file, errorMessage(err));
        continue;
      }
      return { mat };
    }
    throw new SourceError(`images ${this.folder}: none of the ${this.files.length} files could be decoded`);
  }

  async close(): Promise<void> {
    this.files = [];
  }
}
