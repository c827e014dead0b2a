import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelPackageError } from '../util/errors';
import { isKerasFileName } from './formats/keras';
import { isOnnxFileName } from './formats/onnx-file';
import { parseMetadata, type ModelInputShape, type ModelMetadata } from './metadata';
import { METADATA_JSON, MODEL_JSON } from './package-io';

export const LABELS_TXT = 'labels.txt';

/**
 * The bare model file a model path stands for: the path itself when it is a file, or the one
 * model file in a directory that has no model.json (Teachable Machine's `converted_keras/`
 * folder: keras_model.h5 + labels.txt). Undefined for a TF.js package. `accept` says which
 * files count: Keras files (what the hand-off, inbox and store take), or ONNX files too
 * (what the daemon and predict load).
 */
export function bareModelFileOf(modelPath: string, accept: 'keras' | 'keras-or-onnx' = 'keras-or-onnx'): string | undefined {
  const stat = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (!stat) return undefined;
  if (stat.isFile()) return modelPath;
  if (fs.existsSync(path.join(modelPath, MODEL_JSON))) return undefined;
  const isModel = (f: string) => (isKerasFileName(f) && !f.endsWith('.weights.h5')) || (accept === 'keras-or-onnx' && isOnnxFileName(f));
  const found = fs.readdirSync(modelPath).filter(isModel);
  const kinds = accept === 'keras' ? 'Keras files' : 'model files (Keras or ONNX)';
  if (found.length > 1) throw new ModelPackageError(modelPath, `holds ${found.length} ${kinds} (${found.join(', ')}) and no model.json: give one file with --model FILE`);
  return found.length === 1 ? path.join(modelPath, found[0]) : undefined;
}

/** The Keras file a model path stands for (see bareModelFileOf). */
export function kerasFileOf(modelPath: string): string | undefined {
  return bareModelFileOf(modelPath, 'keras');
}

/** Labels and preprocessing for a bare model file, and the sentences saying which defaults were taken. */
export interface BareModelContract {
  metadata: ModelMetadata;
  notes: string[];
}

/**
 * A bare model file (Keras, or ONNX from PyTorch and others) carries neither labels nor
 * preprocessing. Labels: labels.txt beside the file (one
 * per line, or Teachable Machine's `0 Class 1`), else metadata.json beside it, else 0..N-1.
 * Preprocessing: metadata.json's contract when there is one; Teachable Machine's conventions
 * (centre crop, RGB, x/127.5-1) for its Keras export; otherwise what Keras courses do
 * (pixels / 255, stretch, RGB), said in `notes` so that `info` and the log can show it.
 *
 * Teachable Machine's export is recognised by its labels.txt being numbered (`0 Class 1`, every
 * line its own index) or by its architecture, a Sequential of nested models only
 * (Sequential[Sequential[MobileNet], Sequential[head]]); a course's labels.txt is plain names.
 */
export function bareModelContract(modelFile: string, input: ModelInputShape, outputUnits: number, origin: { version: string; teachableArchitecture: boolean; outputActivation?: 'softmax' | 'sigmoid' | 'none' }): BareModelContract {
  const dir = path.dirname(modelFile);
  const labelsFile = path.join(dir, LABELS_TXT);
  const metadataFile = path.join(dir, METADATA_JSON);
  const notes: string[] = [];
  const fromTxt = fs.existsSync(labelsFile) ? readLabelsTxt(labelsFile) : undefined;
  let raw: Record<string, unknown> | undefined;
  if (fs.existsSync(metadataFile)) {
    try {
      raw = JSON.parse(fs.readFileSync(metadataFile, 'utf8'));
    } catch (err) {
      throw new ModelPackageError(metadataFile, `is not valid JSON (${(err as Error).message})`);
    }
  }
  const teachable = !raw && (fromTxt?.numbered === true || origin.teachableArchitecture);
  let labels: string[];
  if (fromTxt) {
    labels = fromTxt.labels;
  } else if (raw && Array.isArray(raw.labels)) {
    labels = raw.labels as string[];
  } else {
    labels = Array.from({ length: outputUnits === 1 ? 2 : outputUnits }, (_, i) => String(i));
    notes.push(`labels ${labels.join(', ')} (no ${LABELS_TXT} or ${METADATA_JSON} beside the file)`);
  }
  // What the file's own graph ends with (an ONNX file says it; Keras's layers config is read by TF.js).
  const base = { name: path.basename(modelFile), version: origin.version, ...(origin.outputActivation ? { outputActivation: origin.outputActivation } : {}) };
  const file = raw ? metadataFile : fromTxt ? labelsFile : modelFile;
  if (raw) return { metadata: parseMetadata({ ...base, ...raw, labels }, file, input, outputUnits), notes };
  if (teachable) {
    notes.push("Teachable Machine export: its conventions (centre crop, RGB, x/127.5-1)");
    return { metadata: parseMetadata({ ...base, labels, tmVersion: 'keras' }, file, input, outputUnits), notes };
  }
  notes.push(`preprocessing defaults (no ${METADATA_JSON} beside the file): pixels scaled to [0, 1], stretch resize to ${input.width}x${input.height}, ${input.channels === 1 ? 'grayscale' : 'RGB order'}`);
  return { metadata: parseMetadata({ ...base, labels, preprocess: {} }, file, input, outputUnits), notes };
}

function readLabelsTxt(file: string): { labels: string[]; numbered: boolean } {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length === 0) throw new ModelPackageError(file, 'is empty (one label per line expected)');
  const numbered = lines.every((l, i) => new RegExp(`^${i}\\s+\\S`).test(l));
  return { labels: numbered ? lines.map((l) => l.replace(/^\d+\s+/, '')) : lines, numbered };
}

/** Teachable Machine's Keras architecture: a Sequential of nested models only. */
export function nestedModelsOnly(topology: Record<string, unknown>): boolean {
  const layers = ((topology.config as Record<string, unknown> | undefined)?.layers ?? []) as Array<{ class_name?: string }>;
  const real = layers.filter((l) => l.class_name !== 'InputLayer');
  return real.length > 0 && real.every((l) => l.class_name === 'Sequential' || l.class_name === 'Functional');
}
