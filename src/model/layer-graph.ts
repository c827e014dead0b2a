import type * as tf from '@tensorflow/tfjs';

type Sym = tf.SymbolicTensor;

/** A layer that is itself a model of layers (a Teachable Machine export nests its MobileNet so). */
export function isNestedModel(layer: tf.layers.Layer): boolean {
  return 'layers' in layer && 'containerNodes' in layer;
}

/**
 * Walks the layers of a (possibly nested) model given what its inputs stand for, and returns
 * what its outputs stand for: the ONNX converter and the benchmark's reference exporter both
 * translate a model this way. Container.layers lists layers in topological order. A layer can
 * have several inbound nodes (a nested model has one from its own construction and one per
 * call in an outer model, and TF.js's Sequential does not record which belong to it), so the
 * node taken is each one whose inputs are all known here and whose outputs are not yet.
 * `apply` gives the values of one layer call's outputs; `fail` makes the error for an output
 * the input does not reach.
 */
export function walkLayers<V>(model: tf.LayersModel, inputs: readonly V[], apply: (layer: tf.layers.Layer, ins: V[], outTensors: Sym[]) => V[], fail: (message: string) => Error): V[] {
  const values = new Map<number, V>();
  model.inputs.forEach((t, i) => values.set(t.id, inputs[i]));
  for (const layer of model.layers) {
    for (const node of layer.inboundNodes) {
      if (!node.inputTensors.every((t: Sym) => values.has(t.id)) || node.outputTensors.every((t: Sym) => values.has(t.id))) continue;
      const outs = apply(layer, node.inputTensors.map((t: Sym) => values.get(t.id)!), node.outputTensors);
      node.outputTensors.forEach((t: Sym, i: number) => values.set(t.id, outs[i]));
    }
  }
  return model.outputs.map((t) => {
    const v = values.get(t.id);
    if (v === undefined) throw fail(`model ${model.name}: output ${t.name} is not reached from its input`);
    return v;
  });
}
