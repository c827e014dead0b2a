import { ModelPackageError } from '../../util/errors';
import { convertKerasModel } from './keras-config';
import { assembleWeights, variable, weightLayers, type ReadVariable } from './keras-weights';
import type { KerasModel } from './keras';
import { Hdf5File } from './hdf5';

/**
 * A Keras HDF5 model file (.h5 / .hdf5), as Keras 2 and Keras 3 (legacy format) write it: the
 * architecture as JSON in the root attribute `model_config`, and each top-level layer's weights
 * under `model_weights/<layer>/`, listed in that group's `weight_names` attribute. A nested
 * model's group lists its inner layers' weights as `<inner layer>/<variable>`, so variables are
 * matched by layer and variable name, never by position.
 */
export function readKerasHdf5(bytes: Uint8Array, file: string): KerasModel {
  const h5 = new Hdf5File(bytes, file);
  const configJson = h5.stringAttr('', 'model_config');
  if (configJson === undefined) {
    const weightsOnly = h5.has('layers') || h5.has('model_weights') || h5.stringListAttr('', 'layer_names') !== undefined;
    throw new ModelPackageError(file, weightsOnly
      ? "holds weights only, no architecture (a '.weights.h5' file from save_weights): save the whole model in Keras with model.save('model.keras') or model.save('model.h5') and give that file"
      : 'is an HDF5 file but not a Keras model (no model_config attribute)');
  }
  let config: unknown;
  try {
    config = JSON.parse(configJson);
  } catch (err) {
    throw new ModelPackageError(file, `its model_config attribute is not valid JSON (${(err as Error).message})`);
  }
  const converted = convertKerasModel(config, file);
  const weightsRoot = h5.has('model_weights') ? 'model_weights' : '';
  const kerasVersion = h5.stringAttr('', 'keras_version') ?? h5.stringAttr(weightsRoot, 'keras_version') ?? 'unknown';

  // Where each `<layer>/<variable>` lives, from every top-level group's weight_names.
  const located = new Map<string, string>();
  for (const group of h5.stringListAttr(weightsRoot, 'layer_names') ?? []) {
    for (const weightName of h5.stringListAttr(`${weightsRoot}/${group}`, 'weight_names') ?? []) {
      const parts = weightName.replace(/:\d+$/, '').split('/');
      const layer = parts.length >= 2 ? parts[parts.length - 2] : group;
      located.set(`${layer}/${parts[parts.length - 1]}`, `${weightsRoot}/${group}/${weightName}`);
    }
  }
  const variables: ReadVariable[] = [];
  for (const layer of weightLayers(converted.saveOrder)) {
    for (const name of layer.variables) {
      const key = `${layer.name}/${name}`;
      const path = located.get(key);
      if (!path || !h5.has(path)) throw new ModelPackageError(file, `layer '${layer.name}' (${layer.className}): variable '${name}' is missing from ${weightsRoot || 'the file'}/${layer.name}`);
      variables.push(variable(key, h5.shape(path), h5.readFloat32(path), file, `layer '${layer.name}' (${layer.className}) variable '${name}'`));
    }
  }
  const { weightSpecs, weightData } = assembleWeights(converted.topology, variables, file);
  return {
    artifacts: { modelTopology: converted.topology, weightSpecs, weightData, format: 'layers-model', generatedBy: `keras v${kerasVersion}`, convertedBy: 'edgesight' },
    description: { format: 'keras-hdf5', kerasVersion, backend: h5.stringAttr('', 'backend') },
    weightBytes: weightData.byteLength,
  };
}
