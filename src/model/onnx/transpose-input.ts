import { valueInfo } from './onnx-graph';
import { ProtoWriter, readFields, type ProtoField } from './protobuf';

/**
 * Rewrites an ONNX model so that its image input `inputName` is fed through a Transpose first:
 * a new graph input (`dims`, float) goes through Transpose(`perm`) into what the old input
 * fed. The OpenCV binding only makes NCHW blobs (blobFromImages), so an NHWC-input graph (as
 * tf2onnx writes) gets an NCHW input this way. Everything else is copied byte for byte.
 */
export function transposeInput(model: Uint8Array, inputName: string, perm: number[], dims: number[]): Uint8Array {
  const fields = readFields(model);
  const out = new ProtoWriter();
  let rewritten = false;
  for (const f of fields) {
    if (f.field === 7 && f.wireType === 2) {
      out.bytes(7, rewriteGraph(f.value, inputName, perm, dims));
      rewritten = true;
    } else copy(out, f);
  }
  if (!rewritten) throw new Error('the model has no graph');
  return out.finish();
}

function rewriteGraph(graph: Uint8Array, inputName: string, perm: number[], dims: number[]): Uint8Array {
  const newInput = `${inputName}__edgesight_nchw`;
  const out = new ProtoWriter();
  // GraphProto.node (1) comes first so the Transpose is first in topological order.
  const node = new ProtoWriter().string(1, newInput).string(2, inputName).string(3, `${inputName}__edgesight_transpose`).string(4, 'Transpose');
  node.message(5, new ProtoWriter().string(1, 'perm').packedInts(8, perm).int(20, 7));
  out.message(1, node);
  let found = false;
  for (const f of readFields(graph)) {
    // GraphProto.input (11): the old image input is dropped (the Transpose now makes it).
    if (f.field === 11 && f.wireType === 2 && nameOf(f.value) === inputName) {
      found = true;
      continue;
    }
    copy(out, f);
  }
  if (!found) throw new Error(`the graph has no input named ${inputName}`);
  out.message(11, valueInfo(newInput, dims));
  return out.finish();
}

function nameOf(valueInfoBytes: Uint8Array): string | undefined {
  const name = readFields(valueInfoBytes).find((f) => f.field === 1 && f.wireType === 2);
  return name ? new TextDecoder().decode(name.value as Uint8Array) : undefined;
}

function copy(out: ProtoWriter, f: ProtoField): void {
  if (f.wireType === 0) out.int(f.field, f.value);
  else if (f.wireType === 2) out.bytes(f.field, f.value);
  // ModelProto and GraphProto have no fixed-width fields; one here means this is not ONNX.
  else throw new Error(`unexpected fixed-width field ${f.field}`);
}
