import type * as tfTypes from '@tensorflow/tfjs';
import { ModelPackageError } from '../util/errors';

type WeightsManifestEntry = tfTypes.io.WeightsManifestEntry;

interface LayerJson {
  class_name?: unknown;
  config?: unknown;
}

/**
 * What a layer's config fixes about each of its weights' shapes, per weight name: a number is a
 * dimension the config sets, null one that depends on the layer's input. Only layer classes
 * whose weights TF.js sizes from their config are listed; others are left to the build.
 */
type ExpectedShapes = Record<string, Array<number | null>>;

function expectedShapes(className: string, config: Record<string, unknown>): ExpectedShapes | undefined {
  const kernel = pair(config.kernel_size);
  const useBias = config.use_bias !== false;
  const withBias = (shapes: ExpectedShapes, units: unknown): ExpectedShapes => (useBias ? { ...shapes, bias: [num(units)] } : shapes);
  switch (className) {
    case 'Dense':
      return withBias({ kernel: [null, num(config.units)] }, config.units);
    case 'Conv2D':
      return withBias({ kernel: [kernel[0], kernel[1], null, num(config.filters)] }, config.filters);
    case 'Conv2DTranspose':
      return withBias({ kernel: [kernel[0], kernel[1], num(config.filters), null] }, config.filters);
    case 'DepthwiseConv2D':
      return { depthwise_kernel: [kernel[0], kernel[1], null, num(config.depth_multiplier ?? 1)], ...(useBias ? { bias: [null] } : {}) };
    case 'SeparableConv2D':
      return withBias({ depthwise_kernel: [kernel[0], kernel[1], null, num(config.depth_multiplier ?? 1)], pointwise_kernel: [1, 1, null, num(config.filters)] }, config.filters);
    default:
      return undefined;
  }
}

function num(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

function pair(value: unknown): [number | null, number | null] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value)) return [num(value[0]), num(value[1] ?? value[0])];
  return [null, null];
}

/** Every layer in a layers-model topology, nested models (Teachable Machine's MobileNet) included. */
function* layersOf(node: unknown, depth = 0): Generator<{ className: string; config: Record<string, unknown> }> {
  if (depth > 16 || typeof node !== 'object' || node === null) return;
  const { class_name: className, config } = node as LayerJson;
  // Old Sequential JSON keeps its layers as the config itself; newer formats under config.layers.
  const children = Array.isArray(config) ? config : typeof config === 'object' && config !== null ? (config as { layers?: unknown }).layers : undefined;
  if (Array.isArray(children)) {
    for (const child of children) yield* layersOf(child, depth + 1);
    return;
  }
  if (typeof className === 'string' && typeof config === 'object' && config !== null) yield { className, config: config as Record<string, unknown> };
}

/**
 * Checks, before TensorFlow.js builds anything, that each layer's config agrees with the shapes
 * of the weights the manifest gives it (`<layer name>/<weight>`). TF.js creates every weight
 * from the config first and only then compares it with the file: a Dense layer whose `units`
 * was edited from 128 to 300000 allocates 1.4 GB before that comparison fails. A mismatch is
 * refused here, naming the layer, the field and both shapes.
 */
export function checkTopologyAgainstWeights(topology: Record<string, unknown>, weightSpecs: readonly WeightsManifestEntry[], modelFile: string): void {
  const shapes = new Map(weightSpecs.map((w) => [w.name, w.shape]));
  const root = (topology.model_config ?? topology) as LayerJson;
  for (const { className, config } of layersOf(root)) {
    const expected = expectedShapes(className, config);
    const name = config.name;
    if (!expected || typeof name !== 'string') continue;
    for (const [weight, dims] of Object.entries(expected)) {
      const actual = shapes.get(`${name}/${weight}`);
      if (!actual) continue; // a missing weight is TF.js's own, cheap, refusal
      const agrees = actual.length === dims.length && dims.every((d, i) => d === null || d === actual[i]);
      if (!agrees) {
        const wanted = `[${dims.map((d) => d ?? '?').join(', ')}]`;
        throw new ModelPackageError(modelFile, `layer '${name}' (${className}) is configured for ${weight} ${wanted}, but its weights in the manifest have shape [${actual.join(', ')}]`);
      }
    }
  }
}
