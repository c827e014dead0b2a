import { ModelPackageError } from '../../util/errors';
import { RESIZING_CLASS, NORMALIZATION_CLASS } from './keras-layers';

/**
 * Keras model configs (Keras 2 and Keras 3 dialects) turned into the Keras-2-dialect topology
 * TF.js's tf.loadLayersModel deserializes. Everything that cannot be honoured at inference
 * refuses the file with one line naming the layer, its class and the option: a model that
 * loads computes what it computed in Keras.
 */

type Json = Record<string, unknown>;
/** A layer reference in Keras 2's inbound_nodes: [layer, node index, tensor index, kwargs]. */
type TensorRef = [string, number, number, Json];

/** One weight-bearing layer, in the order Keras stores it, with its variables in Keras's order. */
export interface KerasLayerWeights {
  /** The layer's name in the config (TF.js weight names are `<name>/<variable>`). */
  name: string;
  className: string;
  variables: string[];
  /** Path of the layer inside a .keras weights file (`layers/conv2d_1`), set by keras-zip. */
  zipPath?: string;
}

/** A converted model: the topology for TF.js, and every layer with its expected variables, nesting kept. */
export interface ConvertedModel {
  topology: Json;
  /** Layers as Keras saves them: Sequential without its InputLayer, Functional with; nested models as trees. */
  saveOrder: SavedLayer[];
}

export type SavedLayer = { kind: 'layer'; className: string; weights: KerasLayerWeights } | { kind: 'model'; className: string; name: string; layers: SavedLayer[] };

/** Layers that only act in training: identity at inference, so they are left out of the graph. */
const TRAINING_ONLY = new Set([
  'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization',
  'RandomFlip', 'RandomRotation', 'RandomZoom', 'RandomTranslation', 'RandomHeight', 'RandomWidth', 'RandomContrast', 'RandomBrightness', 'RandomCrop',
]);

/** Activations TF.js has, by the names Keras writes (Keras 3 spells a few differently). */
const ACTIVATIONS: Record<string, string> = {
  linear: 'linear', relu: 'relu', relu6: 'relu6', sigmoid: 'sigmoid', softmax: 'softmax', tanh: 'tanh', elu: 'elu', selu: 'selu',
  softplus: 'softplus', softsign: 'softsign', hard_sigmoid: 'hard_sigmoid', swish: 'swish', silu: 'swish', gelu: 'gelu', mish: 'mish',
};

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

/** Layers whose output is (batch, features): Keras lets a Flatten follow them as a no-op, TF.js refuses it, so it is left out. */
const FLAT_OUTPUT = new Set(['Dense', 'Flatten', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D']);

export function convertKerasModel(raw: unknown, file: string): ConvertedModel {
  if (!isObject(raw) || typeof raw.class_name !== 'string') throw new ModelPackageError(file, 'holds no Keras model config (no class_name)');
  if (!MODEL_CLASSES.has(raw.class_name)) throw new ModelPackageError(file, `the model is a '${raw.class_name}', not a Sequential or Functional model (subclassed models carry no architecture)`);
  return new Converter(file).model(raw);
}

class Converter {
  constructor(private readonly file: string) {}

  model(raw: Json): ConvertedModel {
    return raw.class_name === 'Sequential' ? this.sequential(raw) : this.functional(raw);
  }

  private sequential(raw: Json): ConvertedModel {
    // Keras 2.1 wrote a Sequential's config as the list of layers itself.
    const config = Array.isArray(raw.config) ? { layers: raw.config } : (raw.config as Json);
    const layersIn = Array.isArray(config?.layers) ? (config.layers as Json[]) : this.refuse('model', 'Sequential', "has no 'layers' list");
    const layers: Json[] = [];
    const saveOrder: SavedLayer[] = [];
    let pendingInputShape: unknown = config.build_input_shape;
    for (const layer of layersIn) {
      const cfg = (layer.config ?? {}) as Json;
      const shape = cfg.batch_shape ?? cfg.batch_input_shape;
      if (shape !== undefined && layers.length === 0) pendingInputShape = shape;
      if (layer.class_name === 'InputLayer') continue; // re-made below; Keras 3 does not save it in a Sequential
      const previous = layers[layers.length - 1]?.class_name as string | undefined;
      const converted = this.layer(layer, saveOrder);
      if (!converted) continue;
      if (converted.class_name === 'Flatten' && previous && FLAT_OUTPUT.has(previous)) continue;
      if (layers.length === 0 && Array.isArray(pendingInputShape)) {
        layers.push({ class_name: 'InputLayer', config: { batch_input_shape: pendingInputShape, dtype: 'float32', name: `${String(config.name ?? 'sequential')}_input`, sparse: false } });
      }
      layers.push(converted);
    }
    return { topology: { class_name: 'Sequential', config: { name: config.name ?? 'sequential', layers } }, saveOrder };
  }

  private functional(raw: Json): ConvertedModel {
    const config = raw.config as Json;
    const layersIn = Array.isArray(config?.layers) ? (config.layers as Json[]) : this.refuse('model', String(raw.class_name), "has no 'layers' list");
    const layers: Json[] = [];
    const saveOrder: SavedLayer[] = [];
    // A dropped (training-only) layer's consumers are wired to what fed it.
    const bypass = new Map<string, TensorRef>();
    const classOf = new Map<string, string>();
    const resolve = (ref: TensorRef): TensorRef => {
      let r = ref;
      for (let i = 0; bypass.has(r[0]) && i < 10_000; i++) r = bypass.get(r[0])!;
      return r;
    };
    for (const layer of layersIn) {
      const name = String((layer.config as Json)?.name ?? layer.name);
      const nodes = this.inboundNodes(layer, name).map((node) => node.map(resolve));
      if (TRAINING_ONLY.has(String(layer.class_name))) {
        if (nodes.length !== 1 || nodes[0].length !== 1) this.refuse(name, String(layer.class_name), 'is called more than once or on several inputs');
        bypass.set(name, nodes[0][0]);
        saveOrder.push({ kind: 'layer', className: String(layer.class_name), weights: { name, className: String(layer.class_name), variables: [] } });
        continue;
      }
      const converted = layer.class_name === 'InputLayer' ? this.inputLayer(layer, saveOrder) : this.layer(layer, saveOrder);
      if (!converted) continue;
      const fed = nodes.length === 1 && nodes[0].length === 1 ? classOf.get(nodes[0][0][0]) : undefined;
      if (converted.class_name === 'Flatten' && fed && FLAT_OUTPUT.has(fed)) {
        bypass.set(name, nodes[0][0]);
        continue;
      }
      classOf.set(name, String(converted.class_name));
      layers.push({ ...converted, name, inbound_nodes: nodes });
    }
    const ends = (v: unknown) => this.layerRefs(v).map((r) => resolve(r).slice(0, 3));
    return {
      topology: { class_name: 'Functional', config: { name: config.name ?? 'model', layers, input_layers: ends(config.input_layers), output_layers: ends(config.output_layers) } },
      saveOrder,
    };
  }

  private inputLayer(layer: Json, saveOrder: SavedLayer[]): Json {
    const cfg = layer.config as Json;
    const shape = cfg.batch_shape ?? cfg.batch_input_shape;
    if (!Array.isArray(shape)) this.refuse(String(cfg.name), 'InputLayer', 'has no batch_shape');
    saveOrder.push({ kind: 'layer', className: 'InputLayer', weights: { name: String(cfg.name), className: 'InputLayer', variables: [] } });
    return { class_name: 'InputLayer', config: { batch_input_shape: shape, dtype: 'float32', name: cfg.name, sparse: false } };
  }

  /** Keras 2: [[[layer, node, tensor, kwargs], ...]]; Keras 3: [{args: [keras tensors], kwargs}]. */
  private inboundNodes(layer: Json, name: string): TensorRef[][] {
    const nodes = layer.inbound_nodes;
    if (!Array.isArray(nodes)) return [];
    return nodes.map((node) => {
      if (Array.isArray(node)) return node.map((ref) => this.ref(ref, name));
      if (!isObject(node)) this.refuse(name, String(layer.class_name), 'has an inbound node Keras does not write');
      const refs: TensorRef[] = [];
      collectKerasTensors(node.args, refs);
      const kwRefs: TensorRef[] = [];
      collectKerasTensors(node.kwargs, kwRefs);
      if (kwRefs.length) this.refuse(name, String(layer.class_name), 'is called with a tensor keyword argument (masks and extra inputs are not supported)');
      return refs;
    });
  }

  private ref(v: unknown, name: string): TensorRef {
    if (!Array.isArray(v) || typeof v[0] !== 'string') this.refuse(name, 'node', `has an input reference ${JSON.stringify(v)} Keras does not write`);
    return [v[0], Number(v[1] ?? 0), Number(v[2] ?? 0), isObject(v[3]) ? v[3] : {}];
  }

  /** input_layers / output_layers: a list of [name, node, tensor], or (Keras 3, one tensor) just one. */
  private layerRefs(v: unknown): TensorRef[] {
    if (!Array.isArray(v)) return [];
    return (typeof v[0] === 'string' ? [v] : v).map((r) => this.ref(r, 'model'));
  }

  /** One layer in Keras-2 dialect, or null for a training-only layer left out of the graph. */
  private layer(layer: Json, saveOrder: SavedLayer[]): Json | null {
    const className = String(layer.class_name);
    const cfg = isObject(layer.config) ? layer.config : {};
    const name = String(cfg.name ?? layer.name ?? className);
    if (MODEL_CLASSES.has(className)) {
      const nested = this.model(layer);
      saveOrder.push({ kind: 'model', className, name, layers: nested.saveOrder });
      return { class_name: nested.topology.class_name, config: { ...(nested.topology.config as Json), name } };
    }
    if (TRAINING_ONLY.has(className)) {
      saveOrder.push({ kind: 'layer', className, weights: { name, className, variables: [] } });
      return null;
    }
    const registered = layer.registered_name;
    const module = typeof layer.module === 'string' ? layer.module : 'keras';
    if (className === 'Lambda' || className === 'TFOpLambda') this.refuse(name, className, 'holds Python code, which cannot run here');
    if ((typeof registered === 'string' && registered !== className) || !module.startsWith('keras')) {
      this.refuse(name, className, `is a custom class (${typeof registered === 'string' ? registered : module})`);
    }
    const out = this.layerConfig(name, className, cfg);
    saveOrder.push({ kind: 'layer', className, weights: { name, className, variables: variablesOf(className, cfg) } });
    return out;
  }

  private layerConfig(name: string, className: string, cfg: Json): Json {
    const refuse = (option: string): never => this.refuse(name, className, option);
    if (cfg.data_format === 'channels_first') refuse("data_format 'channels_first' is not supported (channels_last only)");
    const base: Json = { name, trainable: false, dtype: 'float32' };
    const shape = cfg.batch_shape ?? cfg.batch_input_shape;
    if (Array.isArray(shape)) base.batch_input_shape = shape;
    const act = (field = 'activation') => this.activation(name, className, cfg[field]);
    const take = (...keys: string[]) => Object.fromEntries(keys.filter((k) => cfg[k] !== undefined).map((k) => [k, cfg[k]]));
    const convCommon = () => {
      if (Number(cfg.groups ?? 1) !== 1) refuse(`groups=${String(cfg.groups)} (grouped convolution) is not supported`);
      const dilated = pair(cfg.dilation_rate).some((d) => d !== 1);
      if (dilated && pair(cfg.strides).some((s) => s !== 1)) refuse(`dilation_rate ${JSON.stringify(cfg.dilation_rate)} with strides ${JSON.stringify(cfg.strides)} is not supported`);
      return { ...take('kernel_size', 'strides', 'padding', 'dilation_rate', 'use_bias'), data_format: 'channels_last', activation: act() };
    };
    switch (className) {
      case 'Conv2D':
        return cls(className, { ...base, ...convCommon(), filters: cfg.filters });
      case 'DepthwiseConv2D':
        return cls(className, { ...base, ...convCommon(), depth_multiplier: cfg.depth_multiplier ?? 1 });
      case 'SeparableConv2D':
        return cls(className, { ...base, ...convCommon(), filters: cfg.filters, depth_multiplier: cfg.depth_multiplier ?? 1 });
      case 'Dense':
        return cls(className, { ...base, units: cfg.units, activation: act(), use_bias: cfg.use_bias !== false });
      case 'Flatten':
        return cls(className, { ...base, data_format: 'channels_last' });
      case 'Reshape':
        return cls(className, { ...base, target_shape: cfg.target_shape });
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        return cls(className, { ...base, ...take('pool_size', 'strides', 'padding'), data_format: 'channels_last' });
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        if (cfg.keepdims === true) refuse('keepdims=true is not supported');
        return cls(className, { ...base, data_format: 'channels_last' });
      case 'BatchNormalization': {
        const axis = Array.isArray(cfg.axis) && cfg.axis.length === 1 ? cfg.axis[0] : cfg.axis ?? -1;
        if (axis !== -1 && axis !== 3) refuse(`axis ${JSON.stringify(cfg.axis)} is not supported (the channels axis, -1, only)`);
        if (cfg.renorm === true) refuse('renorm=true is not supported');
        return cls(className, { ...base, axis: -1, epsilon: cfg.epsilon ?? 1e-3, center: cfg.center !== false, scale: cfg.scale !== false, momentum: cfg.momentum ?? 0.99 });
      }
      case 'Activation':
        return cls(className, { ...base, activation: act() });
      case 'ReLU': {
        if (Number(cfg.negative_slope ?? 0) !== 0) refuse(`negative_slope=${String(cfg.negative_slope)} is not supported`);
        if (Number(cfg.threshold ?? 0) !== 0) refuse(`threshold=${String(cfg.threshold)} is not supported`);
        return cls(className, { ...base, max_value: cfg.max_value ?? null });
      }
      case 'LeakyReLU':
        // Keras 3 writes negative_slope, Keras 2 alpha (default 0.3).
        return cls(className, { ...base, alpha: cfg.negative_slope ?? cfg.alpha ?? 0.3 });
      case 'Softmax':
        if (cfg.axis !== undefined && cfg.axis !== -1) refuse(`axis ${JSON.stringify(cfg.axis)} is not supported (-1 only)`);
        return cls(className, { ...base, axis: -1 });
      case 'ZeroPadding2D':
        return cls(className, { ...base, padding: cfg.padding, data_format: 'channels_last' });
      case 'Add':
      case 'Multiply':
        return cls(className, base);
      case 'Concatenate':
        return cls(className, { ...base, axis: cfg.axis ?? -1 });
      case 'Rescaling':
        if (typeof cfg.scale !== 'number' || typeof (cfg.offset ?? 0) !== 'number') refuse('per-channel scale or offset is not supported (numbers only)');
        return cls(className, { ...base, scale: cfg.scale, offset: cfg.offset ?? 0 });
      case 'Resizing':
        if (cfg.crop_to_aspect_ratio === true) refuse('crop_to_aspect_ratio=true is not supported');
        if (cfg.pad_to_aspect_ratio === true) refuse('pad_to_aspect_ratio=true is not supported');
        if (!['bilinear', 'nearest', undefined].includes(cfg.interpolation as string)) refuse(`interpolation '${String(cfg.interpolation)}' is not supported (bilinear, nearest)`);
        return cls(RESIZING_CLASS, { ...base, height: cfg.height, width: cfg.width, interpolation: cfg.interpolation ?? 'bilinear' });
      case 'Normalization': {
        const axis = Array.isArray(cfg.axis) && cfg.axis.length === 1 ? cfg.axis[0] : cfg.axis ?? -1;
        if (axis !== -1 && axis !== 3) refuse(`axis ${JSON.stringify(cfg.axis)} is not supported (the channels axis, -1, only)`);
        return cls(NORMALIZATION_CLASS, { ...base, mean: cfg.mean ?? null, variance: cfg.variance ?? null, invert: cfg.invert === true });
      }
      default:
        return refuse('is not a layer class edgesight can run');
    }
  }

  private activation(name: string, className: string, v: unknown): string {
    const id = isObject(v) ? (v.config as Json)?.name ?? v.class_name : v ?? 'linear';
    const tfjs = typeof id === 'string' ? ACTIVATIONS[id] : undefined;
    if (!tfjs) return this.refuse(name, className, `activation ${JSON.stringify(id)} is not supported`);
    return tfjs;
  }

  private refuse(layer: string, className: string, option: string): never {
    throw new ModelPackageError(this.file, `layer '${layer}' (${className}): ${option}`);
  }
}

/** Variables a layer owns, in the order Keras creates (and stores) them; TF.js uses the same names. */
export function variablesOf(className: string, cfg: Json): string[] {
  const bias = cfg.use_bias === false ? [] : ['bias'];
  switch (className) {
    case 'Conv2D':
    case 'Dense':
      return ['kernel', ...bias];
    case 'DepthwiseConv2D':
      return ['depthwise_kernel', ...bias];
    case 'SeparableConv2D':
      return ['depthwise_kernel', 'pointwise_kernel', ...bias];
    case 'BatchNormalization':
      return [...(cfg.scale === false ? [] : ['gamma']), ...(cfg.center === false ? [] : ['beta']), 'moving_mean', 'moving_variance'];
    case 'Normalization':
      return cfg.mean == null ? ['mean', 'variance'] : [];
    default:
      return [];
  }
}

function collectKerasTensors(v: unknown, out: TensorRef[]): void {
  if (Array.isArray(v)) v.forEach((x) => collectKerasTensors(x, out));
  else if (isObject(v) && v.class_name === '__keras_tensor__') {
    const h = (v.config as Json)?.keras_history as unknown[];
    out.push([String(h?.[0]), Number(h?.[1] ?? 0), Number(h?.[2] ?? 0), {}]);
  } else if (isObject(v)) Object.values(v).forEach((x) => collectKerasTensors(x, out));
}

function cls(className: string, config: Json): Json {
  return { class_name: className, config };
}

function pair(v: unknown): number[] {
  return Array.isArray(v) ? v.map(Number) : [Number(v ?? 1), Number(v ?? 1)];
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
