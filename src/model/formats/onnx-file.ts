import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelPackageError } from '../../util/errors';
import { readFields, type ProtoField } from '../onnx/protobuf';

export function isOnnxFileName(file: string): boolean {
  return path.extname(file).toLowerCase() === '.onnx';
}

/** A user's ONNX file as edgesight serves it: its bytes and what its graph says of input and output. */
export interface OnnxFile {
  bytes: Uint8Array;
  /** The graph's image input. */
  inputName: string;
  /** Height, width, channels. */
  inputShape: [number, number, number];
  /** Where the channels sit in the graph's input: NCHW (PyTorch) or NHWC (tf2onnx). */
  layout: 'nchw' | 'nhwc';
  /** Output units, when the graph declares a fixed (batch, classes) output. */
  outputUnits?: number;
  /** What the graph's last node does: a PyTorch classifier usually ends in logits ('none'). */
  outputActivation: 'softmax' | 'sigmoid' | 'none';
  opset?: number;
}

/**
 * Reads an .onnx file and the shape of its one image input from the graph (the ONNX protobuf
 * ModelProto: graph 7; GraphProto: initializer 5, input 11, output 12). Older exporters list
 * the weights among the inputs too: those named by an initializer are not the image input.
 */
export async function readOnnxFile(file: string): Promise<OnnxFile> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    throw new ModelPackageError(file, `cannot be read: ${(err as Error).message}`);
  }
  const fail = (why: string): never => {
    throw new ModelPackageError(file, why);
  };
  let model: ProtoField[];
  try {
    model = readFields(bytes);
  } catch (err) {
    return fail(`is not an ONNX model (${(err as Error).message})`);
  }
  const graphBytes = bytes1(model, 7);
  if (!graphBytes) return fail(bytes.length === 0 ? 'is empty' : 'is not an ONNX model (no graph)');
  const graph = readFields(graphBytes);
  const initializers = new Set(all(graph, 5).map((t) => text(readFields(t), 8)));
  const inputs = all(graph, 11).map(valueInfo).filter((v) => !initializers.has(v.name));
  if (inputs.length !== 1) fail(`has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); one image input is supported`);
  const dims = inputs[0].dims;
  if (dims.length !== 4) fail(`input ${inputs[0].name} has rank ${dims.length}; (batch, channels, height, width) or (batch, height, width, channels) is supported`);
  const [, a, b, c] = dims;
  let layout: 'nchw' | 'nhwc';
  let inputShape: [number, number, number];
  // Channels are 1 or 3 and the image at least 4 pixels a side, which tells the layouts apart.
  if ((a === 1 || a === 3) && b > 3 && c > 3) {
    layout = 'nchw';
    inputShape = [b, c, a];
  } else if ((c === 1 || c === 3) && a > 3 && b > 3) {
    layout = 'nhwc';
    inputShape = [a, b, c];
  } else {
    return fail(`input ${inputs[0].name} has shape [${dims.join(', ')}]: expected a fixed size with 1 or 3 channels, as [N, C, H, W] or [N, H, W, C]`);
  }
  const outputs = all(graph, 12).map(valueInfo);
  const out = outputs[0]?.dims;
  const outputUnits = out && out.length === 2 && out[1] > 0 ? out[1] : undefined;
  const opsetEntry = all(model, 8).map((o) => readFields(o)).find((o) => (text(o, 1) ?? '') === '');
  const opset = opsetEntry?.find((f) => f.field === 2 && f.wireType === 0)?.value as number | undefined;
  return { bytes, inputName: inputs[0].name, inputShape, layout, outputUnits, outputActivation: lastActivation(graph, outputs[0]?.name), opset };
}

/**
 * Softmax or Sigmoid when the node making the output is one (NodeProto: input 1, output 2,
 * op_type 4), looking through Identity nodes; else 'none'.
 */
function lastActivation(graph: ProtoField[], output: string | undefined): 'softmax' | 'sigmoid' | 'none' {
  const nodes = all(graph, 1).map((n) => readFields(n));
  let wanted = output;
  for (let hops = 0; hops < 8 && wanted !== undefined; hops++) {
    const node = nodes.find((n) => all(n, 2).some((o) => new TextDecoder().decode(o) === wanted));
    const op = node && text(node, 4);
    if (op !== 'Identity') return op === 'Softmax' ? 'softmax' : op === 'Sigmoid' ? 'sigmoid' : 'none';
    wanted = text(node!, 1);
  }
  return 'none';
}

function all(fields: ProtoField[], field: number): Uint8Array[] {
  return fields.filter((f): f is Extract<ProtoField, { wireType: 2 }> => f.field === field && f.wireType === 2).map((f) => f.value);
}

function bytes1(fields: ProtoField[], field: number): Uint8Array | undefined {
  return all(fields, field)[0];
}

function text(fields: ProtoField[], field: number): string | undefined {
  const b = bytes1(fields, field);
  return b && new TextDecoder().decode(b);
}

/** A ValueInfoProto's name and dims (-1 for a symbolic or absent dimension). */
function valueInfo(bytes: Uint8Array): { name: string; dims: number[] } {
  const v = readFields(bytes);
  const name = text(v, 1) ?? '';
  const type = bytes1(v, 2);
  const tensor = type && bytes1(readFields(type), 1);
  const shape = tensor && bytes1(readFields(tensor), 2);
  const dims = shape
    ? all(readFields(shape), 1).map((d) => {
        const value = readFields(d).find((f) => f.field === 1 && f.wireType === 0);
        return value ? (value.value as number) : -1;
      })
    : [];
  return { name, dims };
}
