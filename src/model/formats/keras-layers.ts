import * as tf from '@tensorflow/tfjs';

/**
 * Keras preprocessing layers TF.js 4.22 lacks or computes differently, registered under their
 * own names so that a converted Keras topology deserializes with Keras's exact semantics.
 * TF.js's own Resizing passes crop_to_aspect_ratio as align_corners; Keras resizes with half-pixel
 * centres (tf.image.resize), which is what this one does. TF.js has no Normalization layer.
 */
export const RESIZING_CLASS = 'EdgesightKerasResizing';
export const NORMALIZATION_CLASS = 'EdgesightKerasNormalization';

/** Keras's backend epsilon, the floor Normalization puts under the standard deviation. */
const KERAS_EPSILON = 1e-7;

interface ResizingArgs extends tf.serialization.ConfigDict {
  height: number;
  width: number;
  interpolation: 'bilinear' | 'nearest';
}

class KerasResizing extends tf.layers.Layer {
  static className = RESIZING_CLASS;
  private readonly args: ResizingArgs;

  constructor(args: ResizingArgs & { name?: string }) {
    super({ name: args.name, trainable: false });
    this.args = { height: args.height, width: args.width, interpolation: args.interpolation };
  }

  override computeOutputShape(shape: tf.Shape): tf.Shape {
    return [shape[0], this.args.height, this.args.width, shape[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const size: [number, number] = [this.args.height, this.args.width];
    if (x.shape[1] === size[0] && x.shape[2] === size[1]) return x.clone();
    return this.args.interpolation === 'nearest' ? tf.image.resizeNearestNeighbor(x, size, false, true) : tf.image.resizeBilinear(x, size, false, true);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.args };
  }
}

interface NormalizationArgs extends tf.serialization.ConfigDict {
  mean: number | number[] | null;
  variance: number | number[] | null;
  invert: boolean;
}

/** (x - mean) / max(sqrt(variance), epsilon) per channel, or its inverse; mean and variance from the config or the weights. */
class KerasNormalization extends tf.layers.Layer {
  static className = NORMALIZATION_CLASS;
  private readonly args: NormalizationArgs;
  private meanWeight?: tf.LayerVariable;
  private varianceWeight?: tf.LayerVariable;

  constructor(args: NormalizationArgs & { name?: string }) {
    super({ name: args.name, trainable: false });
    this.args = { mean: args.mean ?? null, variance: args.variance ?? null, invert: args.invert === true };
  }

  override build(shape: tf.Shape | tf.Shape[]): void {
    const channels = (shape as tf.Shape)[(shape as tf.Shape).length - 1] as number;
    if (this.args.mean === null) {
      this.meanWeight = this.addWeight('mean', [channels], 'float32', tf.initializers.zeros(), undefined, false);
      this.varianceWeight = this.addWeight('variance', [channels], 'float32', tf.initializers.ones(), undefined, false);
    }
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const mean = this.meanWeight ? this.meanWeight.read() : tf.tensor(this.args.mean as number | number[]);
      const variance = this.varianceWeight ? this.varianceWeight.read() : tf.tensor(this.args.variance as number | number[]);
      const std = tf.maximum(tf.sqrt(variance), KERAS_EPSILON);
      return this.args.invert ? tf.add(mean, tf.mul(x, std)) : tf.div(tf.sub(x, mean), std);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.args };
  }
}

tf.serialization.registerClass(KerasResizing);
tf.serialization.registerClass(KerasNormalization);
