import type * as tfTypes from '@tensorflow/tfjs';
import { ModelPackageError } from '../../util/errors';
import { checkTopologyAgainstWeights } from '../topology-check';
import type { KerasLayerWeights, SavedLayer } from './keras-config';

/** One variable as read from a Keras file, under the name TF.js gives it (`<layer>/<variable>`). */
export interface ReadVariable {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Every weight-bearing layer of a converted model, nested models flattened, in save order. */
export function* weightLayers(layers: SavedLayer[]): Generator<KerasLayerWeights> {
  for (const l of layers) {
    if (l.kind === 'model') yield* weightLayers(l.layers);
    else if (l.weights.variables.length) yield l.weights;
  }
}

/**
 * The weights of a Keras file as TF.js weightSpecs + one float32 buffer, each variable's shape
 * checked against its layer first: the config's fixed dimensions (topology-check), and per
 * layer class what the config cannot fix (a BatchNormalization's four vectors agree).
 */
export function assembleWeights(topology: Record<string, unknown>, variables: ReadVariable[], file: string): { weightSpecs: tfTypes.io.WeightsManifestEntry[]; weightData: ArrayBuffer } {
  const weightSpecs = variables.map((v) => ({ name: v.name, shape: v.shape, dtype: 'float32' as const }));
  checkTopologyAgainstWeights(topology, weightSpecs, file);
  checkVectorsAgree(variables, file);
  const total = variables.reduce((sum, v) => sum + v.values.length, 0);
  const data = new Float32Array(total);
  let at = 0;
  for (const v of variables) {
    data.set(v.values, at);
    at += v.values.length;
  }
  return { weightSpecs, weightData: data.buffer };
}

/** The variable's element count must match its shape (a file whose dataset was cut short). */
export function variable(name: string, shape: number[], values: Float32Array, file: string, where: string): ReadVariable {
  const count = shape.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new ModelPackageError(file, `${where} has ${values.length} values but shape [${shape.join(', ')}]`);
  return { name, shape, values };
}

function checkVectorsAgree(variables: ReadVariable[], file: string): void {
  const byLayer = new Map<string, ReadVariable[]>();
  for (const v of variables) {
    const layer = v.name.slice(0, v.name.lastIndexOf('/'));
    byLayer.set(layer, [...(byLayer.get(layer) ?? []), v]);
  }
  for (const [layer, vars] of byLayer) {
    const vectors = vars.filter((v) => /\/(gamma|beta|moving_mean|moving_variance)$/.test(v.name));
    if (vectors.length === 0) continue;
    const first = vectors[0];
    for (const v of vectors) {
      if (v.shape.length !== 1 || v.shape[0] !== first.shape[0]) {
        throw new ModelPackageError(file, `layer '${layer}' (BatchNormalization): ${v.name.slice(layer.length + 1)} has shape [${v.shape.join(', ')}], expected [${first.shape[0]}] like ${first.name.slice(layer.length + 1)}`);
      }
    }
  }
}
