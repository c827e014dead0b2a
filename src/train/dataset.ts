import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isImageFile } from '../capture/images-source';
import { DatasetError } from '../util/errors';
import { seededRandom } from '../util/random';

export interface LabelledFile {
  file: string;
  /** Index into `classes`. */
  label: number;
}

export interface DatasetFiles {
  root: string;
  /** Sorted, as Keras' flow_from_directory sorts them: output unit i is classes[i]. */
  classes: string[];
  layout: 'class-folders' | 'train-validation';
  train: LabelledFile[];
  validation: LabelledFile[];
}

const VALIDATION_NAMES = ['validation', 'val', 'valid'];

/**
 * Finds a dataset laid out as Keras users know it: ROOT/<class>/* or ROOT/train/<class>/* with
 * ROOT/validation/<class>/*. Without a validation folder, each class is split on its own
 * (stratified): a seeded shuffle, then `validationSplit` of it (at least one image when the class
 * has two or more) for validation. Files only: decoding (and skipping what does not decode) is
 * the loader's job. An empty class, a single class or no images at all stop here, named.
 */
export function findDataset(root: string, validationSplit: number, seed: number): DatasetFiles {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new DatasetError(`dataset ${root}: no such folder`);
  const trainDir = path.join(root, 'train');
  const validationDir = VALIDATION_NAMES.map((n) => path.join(root, n)).find((d) => isDir(d));
  if (isDir(trainDir) && validationDir) {
    const train = classFolders(trainDir);
    const validation = classFolders(validationDir);
    const classes = train.map((c) => c.name);
    const missing = classes.filter((c) => !validation.some((v) => v.name === c));
    const extra = validation.filter((v) => !classes.includes(v.name)).map((v) => v.name);
    if (missing.length || extra.length) {
      throw new DatasetError(`dataset ${root}: train/ and ${path.basename(validationDir)}/ must hold the same classes (${[...missing.map((m) => `'${m}' has no validation folder`), ...extra.map((e) => `'${e}' is only in validation`)].join(', ')})`);
    }
    checkClasses(trainDir, train);
    checkClasses(validationDir, validation);
    const label = (name: string) => classes.indexOf(name);
    return {
      root,
      classes,
      layout: 'train-validation',
      train: train.flatMap((c) => c.files.map((file) => ({ file, label: label(c.name) }))),
      validation: validation.flatMap((c) => c.files.map((file) => ({ file, label: label(c.name) }))),
    };
  }
  const folders = classFolders(root);
  checkClasses(root, folders);
  if (!(validationSplit > 0 && validationSplit < 1)) throw new DatasetError(`--validation-split must be between 0 and 1 (exclusive) when ${root} has no validation folder, got ${validationSplit}`);
  const random = seededRandom(seed);
  const train: LabelledFile[] = [];
  const validation: LabelledFile[] = [];
  folders.forEach((c, label) => {
    const files = shuffled(c.files, random);
    const held = files.length < 2 ? 0 : Math.max(1, Math.round(files.length * validationSplit));
    files.forEach((file, i) => (i < held ? validation : train).push({ file, label }));
  });
  return { root, classes: folders.map((c) => c.name), layout: 'class-folders', train, validation };
}

/** Images per class in each split, in class order. */
export function countsOf(data: Pick<DatasetFiles, 'classes' | 'train' | 'validation'>): Array<{ label: string; train: number; validation: number }> {
  return data.classes.map((label, i) => ({
    label,
    train: data.train.filter((f) => f.label === i).length,
    validation: data.validation.filter((f) => f.label === i).length,
  }));
}

/**
 * A fingerprint of exactly which images trained the model: sha256 over each file's class,
 * name and content, in a fixed order. Renaming or re-labelling an image changes it too.
 */
export function fingerprint(data: Pick<DatasetFiles, 'root' | 'classes' | 'train' | 'validation'>): string {
  const hash = createHash('sha256');
  const all = [...data.train.map((f) => ['train', f] as const), ...data.validation.map((f) => ['validation', f] as const)];
  all.sort((a, b) => (a[1].file < b[1].file ? -1 : a[1].file > b[1].file ? 1 : 0));
  for (const [split, f] of all) {
    hash.update(`${split}\0${data.classes[f.label]}\0${path.relative(data.root, f.file)}\0`);
    hash.update(fs.readFileSync(f.file));
  }
  return `sha256:${hash.digest('hex')}`;
}

interface ClassFolder {
  name: string;
  files: string[];
}

function classFolders(dir: string): ClassFolder[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort()
    .map((name) => ({
      name,
      files: fs
        .readdirSync(path.join(dir, name), { withFileTypes: true })
        .filter((e) => e.isFile() && !e.name.startsWith('.') && isImageFile(e.name))
        .map((e) => path.join(dir, name, e.name))
        .sort(),
    }));
}

function checkClasses(dir: string, folders: ClassFolder[]): void {
  if (folders.every((c) => c.files.length === 0)) {
    throw new DatasetError(`dataset ${dir}: no images found (expected one folder per class, e.g. ${path.join(dir, 'cat', '001.jpg')}; jpg, png, bmp or webp)`);
  }
  const empty = folders.filter((c) => c.files.length === 0);
  if (empty.length) throw new DatasetError(`dataset ${dir}: class ${empty.map((c) => `'${c.name}' (${path.join(dir, c.name)})`).join(', ')} has no images`);
  if (folders.length < 2) throw new DatasetError(`dataset ${dir}: only one class ('${folders[0].name}'); a classifier needs at least two class folders`);
}

function isDir(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isDirectory();
}

function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
