import { ProtoWriter } from './protobuf';

/**
 * Builds an ONNX ModelProto (field numbers from onnx/onnx.proto). Opset 10, where Clip's limits
 * and Pad's pads are attributes: OpenCV 4.6's importer takes Clip only that way (it refuses a
 * Clip with the limits as inputs, opset 11's form).
 */
export const OPSET = 10;
const IR_VERSION = 6;
const FLOAT = 1;

export type Attribute = number | number[] | { float: number };

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attribute>;
}

interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

export class OnnxGraph {
  private readonly nodes: Node[] = [];
  private readonly initializers: Initializer[] = [];
  private counter = 0;

  /** A fresh tensor name (names only need to be unique within the graph). */
  name(hint: string): string {
    return `${hint.replace(/[^\w/.-]/g, '_')}__${this.counter++}`;
  }

  /** Adds a node with one output and returns that output's name. */
  node(op: string, inputs: string[], attrs: Record<string, Attribute> = {}, hint = op): string {
    const out = this.name(hint);
    this.nodes.push({ op, inputs, outputs: [out], attrs });
    return out;
  }

  floats(hint: string, dims: number[], data: Float32Array | number[]): string {
    const name = this.name(hint);
    this.initializers.push({ name, dims, data: data instanceof Float32Array ? data : Float32Array.from(data) });
    return name;
  }

  /** Serialises the graph with one float input (batch dimension symbolic) and one float output. */
  encode(input: { name: string; dims: number[] }, output: { name: string; dims: number[] }): Uint8Array {
    const graph = new ProtoWriter();
    for (const n of this.nodes) graph.message(1, encodeNode(n));
    graph.string(2, 'edgesight');
    for (const t of this.initializers) graph.message(5, encodeTensor(t));
    graph.message(11, valueInfo(input.name, input.dims));
    graph.message(12, valueInfo(output.name, output.dims));
    const opset = new ProtoWriter().string(1, '').int(2, OPSET);
    return new ProtoWriter().int(1, IR_VERSION).string(2, 'edgesight').string(3, '1').message(7, graph).message(8, opset).finish();
  }
}

function encodeNode(n: Node): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.outputs[0]);
  w.string(4, n.op);
  for (const [name, value] of Object.entries(n.attrs)) {
    const a = new ProtoWriter().string(1, name);
    // AttributeProto: f = 2, i = 3, ints = 8; type = 20 (FLOAT 1, INT 2, INTS 7).
    if (Array.isArray(value)) a.packedInts(8, value).int(20, 7);
    else if (typeof value === 'number') a.int(3, value).int(20, 2);
    else a.float(2, value.float).int(20, 1);
    w.message(5, a);
  }
  return w;
}

function encodeTensor(t: Initializer): ProtoWriter {
  const w = new ProtoWriter().packedInts(1, t.dims).int(2, FLOAT).string(8, t.name);
  // raw_data is little-endian, as typed arrays are on every platform Node runs on here.
  return w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/** ValueInfoProto with a tensor type; a dimension of -1 becomes the symbolic batch dimension 'N'. */
export function valueInfo(name: string, dims: number[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, d < 0 ? new ProtoWriter().string(2, 'N') : new ProtoWriter().int(1, d));
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}
