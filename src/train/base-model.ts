import * as tf from '@tensorflow/tfjs';
import type { PreprocessContract } from '../vision/preprocess';
import { loadModelPackage } from '../model/model-package';
import { UsageError } from '../util/errors';

/** A pretrained model cut into a frozen feature extractor: image in, one embedding vector out. */
export interface BaseModel {
  dir: string;
  name: string;
  conventions: 'edgesight' | 'teachable-machine';
  /** What the base is, for the log and the report: "Keras HDF5 file (Keras 3.10.0)", "Teachable Machine export", ... */
  kind: string;
  /** The base's own preprocessing contract: the trained package keeps it. */
  contract: PreprocessContract;
  /** The layer whose output is the embedding, and whether that was the default cut. */
  layer: string;
  defaultCut: boolean;
  /** True when the layer's output is a feature map, average-pooled here into a vector. */
  pooled: boolean;
  embeddingSize: number;
  /** Input image -> embedding, sharing its layers (and weights) with the loaded base. */
  extractor: tf.LayersModel;
  /** The base's own layers up to the cut, input first, innermost layers of nested models listed in place. */
  layersUpToCut: tf.layers.Layer[];
  /** Frees every weight of the loaded base, including those of a model built on top of it. */
  dispose(): void;
}

/** A layer of the base, with the nested models that lead to it (outermost first). */
interface LayerEntry {
  layer: tf.layers.Layer;
  path: tf.layers.Layer[];
}

/** Layers that make up a classification block at a model's end; the default cut is just before them. */
const HEAD_LAYERS = new Set(['Dense', 'Dropout', 'Activation', 'Softmax', 'AlphaDropout', 'GaussianDropout', 'GaussianNoise']);

/**
 * Loads `dir` through the daemon's loader (a TF.js layers package, a Teachable Machine export
 * or a Keras file) and cuts it at `layerName`. The default
 * cut is the input of the classification block at the model's end: walking the layers in order
 * (into nested models), the last layer that is not Dense, Dropout, Activation or Softmax. For a
 * Teachable Machine export that is its MobileNet's global average pooling (the 1280-value
 * embedding its own head consumes); for a plain CNN the Flatten or global pooling before the
 * dense layers. A model that is nothing but a dense block is cut before its last Dense.
 */
export async function loadBase(dir: string, layerName?: string): Promise<BaseModel> {
  const loaded = await loadModelPackage(dir);
  if (!loaded.model) throw new UsageError(`train: --base ${dir} is an ONNX file, which TensorFlow.js cannot train on; give a layers model (a TF.js layers package, a Teachable Machine export or a Keras file)`);
  if (loaded.format !== 'layers-model') {
    loaded.model.dispose();
    throw new UsageError(`train: --base ${dir} is a TF.js graph model, which cannot be cut into a feature extractor; give a layers model (a TF.js layers package, a Teachable Machine export or a Keras file)`);
  }
  const model = loaded.model as tf.LayersModel;
  try {
    const entries = flatten(model, []);
    const chosen = layerName === undefined ? defaultCut(entries) : entries.find((e) => e.layer.name === layerName);
    if (!chosen) {
      const names = entries.filter((e) => e.layer.getClassName() !== 'InputLayer').map((e) => e.layer.name);
      throw new UsageError(`train: --base-layer '${layerName}' is not a layer of ${dir}; its layers are: ${names.join(', ')}`);
    }
    const cut = truncate(model, [...chosen.path, chosen.layer]);
    const shape = cut.outputs[0].shape;
    if (shape.length !== 2 && shape.length !== 4) throw new UsageError(`train: --base-layer '${chosen.layer.name}' outputs shape [${shape.join(', ')}]; pick a layer whose output is a vector or a feature map`);
    // A feature map is pooled to one value per channel, so the cached embedding stays small.
    const pooled = shape.length === 4;
    const extractor = pooled ? tf.model({ inputs: cut.inputs, outputs: tf.layers.globalAveragePooling2d({ name: 'base_pool' }).apply(cut.outputs[0]) as tf.SymbolicTensor }) : cut;
    extractor.trainable = false;
    const index = entries.indexOf(chosen);
    return {
      dir: loaded.dir,
      name: loaded.metadata.name,
      conventions: loaded.metadata.conventions,
      kind: baseKind(loaded.keras, loaded.metadata.conventions),
      contract: loaded.metadata.preprocess,
      layer: chosen.layer.name,
      defaultCut: layerName === undefined,
      pooled,
      embeddingSize: extractor.outputs[0].shape[1] as number,
      extractor,
      layersUpToCut: entries.slice(0, index + 1).map((e) => e.layer),
      // Layers shared between the base, its cut and the joined model are reference-counted per
      // use; freeing the weights themselves, once, is the one order that cannot double-free.
      dispose: () => model.weights.forEach((w) => w.dispose()),
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function baseKind(keras: { format: string; kerasVersion: string } | undefined, conventions: string): string {
  if (keras) return `${keras.format === 'keras-hdf5' ? 'Keras HDF5 file' : 'Keras file'} (Keras ${keras.kerasVersion})`;
  return conventions === 'teachable-machine' ? 'Teachable Machine export' : 'TF.js layers package';
}

/** Every layer in order; a nested model is replaced by its own layers (its output is its last layer's). */
function flatten(container: tf.LayersModel, path: tf.layers.Layer[]): LayerEntry[] {
  const out: LayerEntry[] = [];
  for (const layer of container.layers) {
    if (layer instanceof tf.LayersModel) out.push(...flatten(layer, [...path, layer]));
    else out.push({ layer, path });
  }
  return out;
}

function defaultCut(entries: LayerEntry[]): LayerEntry | undefined {
  let i = entries.length - 1;
  while (i >= 0 && HEAD_LAYERS.has(entries[i].layer.getClassName())) i--;
  if (i >= 0 && entries[i].layer.getClassName() !== 'InputLayer') return entries[i];
  // Only a dense block: cut before its last Dense.
  for (let j = entries.length - 2; j >= 0; j--) if (entries[j].layer.getClassName() === 'Dense') return entries[j];
  return undefined;
}

/**
 * A model from `container`'s input to the output of the last layer of `path`, which may sit
 * inside nested models: each nested model is itself cut and then applied to the tensor that fed
 * it in its parent's graph, so branches and skip connections are kept as they were.
 */
function truncate(container: tf.LayersModel, path: tf.layers.Layer[]): tf.LayersModel {
  const [child, ...rest] = path;
  let output: tf.SymbolicTensor;
  if (rest.length === 0) {
    output = child.getOutputAt(child.inboundNodes.length - 1) as tf.SymbolicTensor;
  } else {
    const inner = truncate(child as tf.LayersModel, rest);
    output = inner.apply(child.getInputAt(0)) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: container.inputs, outputs: output });
}
