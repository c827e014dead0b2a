import { ModelPackageError } from '../../util/errors';
import { convertKerasModel, type SavedLayer } from './keras-config';
import { assembleWeights, variable, type ReadVariable } from './keras-weights';
import type { KerasModel } from './keras';
import { Hdf5File } from './hdf5';
import { readZipEntries } from './zip-entries';

const CONFIG = 'config.json';
const METADATA = 'metadata.json';
const WEIGHTS = 'model.weights.h5';
/** A .keras file holds a config, a small metadata file and the weights: 2 GiB uncompressed is past any model a Pi serves. */
const MAX_UNCOMPRESSED = 2 * 1024 ** 3 - 1;

/**
 * A Keras 3 `.keras` file: a zip of config.json, metadata.json and model.weights.h5. In the
 * weights file a layer's variables sit at `layers/<name>/vars/<i>`, where <name> is not the
 * layer's name in config.json but its class in snake case plus a counter among its siblings
 * (`conv2d`, `conv2d_1`, ...), in the order the model lists its layers; a nested model's
 * layers sit under its own `layers/`. Variables are numbered in the order the layer created
 * them. That order, not a guess from names, is how each variable finds its layer here.
 */
export async function readKerasZip(bytes: Uint8Array, file: string): Promise<KerasModel> {
  const entries = await readZipEntries(bytes, [CONFIG, METADATA, WEIGHTS], MAX_UNCOMPRESSED, file);
  const config = jsonEntry(entries.get(CONFIG), CONFIG, file);
  const metadata = entries.has(METADATA) ? jsonEntry(entries.get(METADATA), METADATA, file) : {};
  const weightsBytes = entries.get(WEIGHTS);
  if (!weightsBytes) throw new ModelPackageError(file, `has no ${WEIGHTS} inside (not a Keras 3 .keras file)`);
  const converted = convertKerasModel(config, file);
  const h5 = new Hdf5File(weightsBytes, `${file}!${WEIGHTS}`);
  const variables: ReadVariable[] = [];
  collect(h5, converted.saveOrder, 'layers', variables, file);
  const { weightSpecs, weightData } = assembleWeights(converted.topology, variables, file);
  const kerasVersion = typeof (metadata as Record<string, unknown>).keras_version === 'string' ? ((metadata as Record<string, unknown>).keras_version as string) : 'unknown';
  return {
    artifacts: { modelTopology: converted.topology, weightSpecs, weightData, format: 'layers-model', generatedBy: `keras v${kerasVersion}`, convertedBy: 'edgesight' },
    description: { format: 'keras-zip', kerasVersion },
    weightBytes: weightData.byteLength,
  };
}

function collect(h5: Hdf5File, layers: SavedLayer[], container: string, out: ReadVariable[], file: string): void {
  const used = new Map<string, number>();
  for (const layer of layers) {
    const base = snakeCase(layer.className);
    const n = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, n);
    const path = `${container}/${n === 0 ? base : `${base}_${n}`}`;
    if (layer.kind === 'model') {
      collect(h5, layer.layers, `${path}/layers`, out, file);
      continue;
    }
    const { name, className, variables } = layer.weights;
    const stored = h5.has(`${path}/vars`) ? h5.children(`${path}/vars`).length : 0;
    if (stored !== variables.length && (variables.length > 0 || stored > 0)) {
      const missing = variables[stored];
      throw new ModelPackageError(file, missing
        ? `layer '${name}' (${className}): variable '${missing}' is missing (${WEIGHTS} has ${stored} of ${variables.length} under ${path}/vars)`
        : `layer '${name}' (${className}): ${WEIGHTS} has ${stored} variables under ${path}/vars, the layer has ${variables.length}`);
    }
    variables.forEach((v, i) => {
      const at = `${path}/vars/${i}`;
      out.push(variable(`${name}/${v}`, h5.shape(at), h5.readFloat32(at), file, `layer '${name}' (${className}) variable '${v}' (${at})`));
    });
  }
}

/** Keras's naming.to_snake_case, which names a layer's place in the weights file. */
export function snakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

function jsonEntry(bytes: Uint8Array | undefined, name: string, file: string): unknown {
  if (!bytes) throw new ModelPackageError(file, `has no ${name} inside (not a Keras 3 .keras file)`);
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new ModelPackageError(file, `${name} inside is not valid JSON (${(err as Error).message})`);
  }
}
