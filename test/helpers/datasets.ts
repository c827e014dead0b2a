import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededRandom } from '../../src/util/random';
import { cv } from '../../src/vision/cv';

export type ShapeKind = 'circle' | 'square' | 'triangle';

/**
 * Writes a tiny image dataset laid out as Keras expects (DIR/<class>/*.png): one coloured
 * shape per image on a random background, at a random place, size and colour, so that the
 * class is the shape and nothing else. Grayscale when `gray` is set.
 */
export function writeShapesDataset(dir: string, options: { classes: ShapeKind[]; perClass: number; size?: number; gray?: boolean; seed?: number }): void {
  const size = options.size ?? 48;
  const random = seededRandom(options.seed ?? 3);
  const colour = () => new cv.Vec3(40 + random() * 215, 40 + random() * 215, 40 + random() * 215);
  for (const kind of options.classes) {
    fs.mkdirSync(path.join(dir, kind), { recursive: true });
    for (let i = 0; i < options.perClass; i++) {
      const background = Math.round(random() * 60);
      const img = new cv.Mat(size, size, cv.CV_8UC3, [background, background, background]);
      const r = size * (0.22 + random() * 0.12);
      const cx = r + random() * (size - 2 * r);
      const cy = r + random() * (size - 2 * r);
      const c = colour();
      if (kind === 'circle') img.drawCircle(new cv.Point2(cx, cy), Math.round(r), c, -1, cv.LINE_AA);
      else if (kind === 'square') img.drawRectangle(new cv.Point2(cx - r, cy - r), new cv.Point2(cx + r, cy + r), c, -1);
      else img.drawFillPoly([[new cv.Point2(cx, cy - r), new cv.Point2(cx - r, cy + r), new cv.Point2(cx + r, cy + r)]], c, cv.LINE_AA);
      const out = options.gray ? img.cvtColor(cv.COLOR_BGR2GRAY) : img;
      cv.imwrite(path.join(dir, kind, `${kind}-${String(i).padStart(3, '0')}.png`), out);
    }
  }
}
