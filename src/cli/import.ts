import * as fs from 'node:fs';
import * as path from 'node:path';
import { selectBackend } from '../model/backend';
import { loadModelPackage } from '../model/model-package';
import { parseMetadata } from '../model/metadata';
import { directorySaveHandler, METADATA_JSON, writeAtomically } from '../model/package-io';
import { UsageError } from '../util/errors';
import { backendOption, parseCommandArgs } from './options';

/**
 * `edgesight import FILE --out DIR`: a Keras file written as a regular model package (TF.js
 * layers format + metadata.json), its contract written down: what was found beside the file or
 * defaulted, overridden by the flags given. The package loads faster than the Keras file.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('import', argv, {
    out: { type: 'string', short: 'o' }, labels: { type: 'string' }, range: { type: 'string' }, invert: { type: 'string' },
    'resize-mode': { type: 'string' }, 'color-order': { type: 'string' }, backend: { type: 'string' },
  } as const);
  if (positionals.length !== 1 || !values.out) throw new UsageError('import: edgesight import KERAS_FILE --out DIR [--labels a,b,...] [--range 0,1] [--invert true|false|auto] [--resize-mode stretch|center-crop] [--color-order rgb|bgr]');
  await selectBackend(backendOption('import', values.backend));
  const loaded = await loadModelPackage(positionals[0]);
  if (loaded.onnx) throw new UsageError(`import: ${positionals[0]} is an ONNX file, which TF.js cannot run: serve it as it is (--model FILE.onnx, on the opencv engine)`);
  if (!loaded.keras) throw new UsageError(`import: ${positionals[0]} is already a model package; give a .h5, .hdf5 or .keras file`);
  const out = path.resolve(values.out);
  if (fs.existsSync(out) && fs.readdirSync(out).length) throw new UsageError(`import: ${out} exists and is not empty`);
  try {
    const m = loaded.metadata;
    const preprocess: Record<string, unknown> = { ...m.preprocess };
    if (values.range) preprocess.range = values.range.split(',').map(Number);
    if (values.invert) preprocess.invert = values.invert === 'auto' ? 'auto' : values.invert === 'true';
    if (values['resize-mode']) preprocess.resizeMode = values['resize-mode'];
    if (values['color-order']) preprocess.colorOrder = values['color-order'];
    const raw = {
      ...m.extra,
      name: m.name,
      version: m.version,
      labels: values.labels ? values.labels.split(',') : m.labels,
      preprocess,
      outputActivation: m.outputActivation,
      importedFrom: { file: path.basename(loaded.dir), format: loaded.keras.format, kerasVersion: loaded.keras.kerasVersion },
    };
    // The flags go through the same checks as a package's metadata.json before anything is written.
    const [h, w, c] = loaded.inputShape;
    parseMetadata(raw, `${out}/${METADATA_JSON}`, { height: h, width: w, channels: c }, loaded.outputUnits);
    await (loaded.model as import('@tensorflow/tfjs').LayersModel).save(directorySaveHandler(out));
    writeAtomically(path.join(out, METADATA_JSON), JSON.stringify(raw, null, 2) + '\n');
    process.stdout.write(`wrote ${out} (model.json, weights.bin, metadata.json) from ${loaded.dir}\n`);
    return 0;
  } finally {
    loaded.model?.dispose();
  }
}
