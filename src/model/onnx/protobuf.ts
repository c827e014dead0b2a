/**
 * The few protobuf wire-format pieces the ONNX writer and reader need. Written here rather than
 * taken from protobufjs + onnx-proto: the subset of ModelProto edgesight writes is a handful of
 * messages, and a 2 MB dependency (plus generated code) for that would be most of its weight.
 */

/** Appends protobuf fields to a growing byte buffer; nested messages are encoded separately and embedded. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private varint(value: number | bigint): void {
    // int64 fields carry negative numbers as 10-byte two's complement; BigInt keeps that exact.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wireType: 0 | 1 | 2 | 5): void {
    this.varint((field << 3) | wireType);
  }

  int(field: number, value: number): this {
    this.key(field, 0);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, inner: ProtoWriter): this {
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated varint field (int64 lists such as dims and ints). */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** One decoded field: varints as numbers (ONNX dims fit), length-delimited fields as byte views. */
export type ProtoField = { field: number; wireType: 0; value: number } | { field: number; wireType: 2; value: Uint8Array } | { field: number; wireType: 1 | 5; value: undefined };

/** Reads the top-level fields of one message; throws on bytes that are not protobuf. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  const varint = (): number => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length) throw new Error('truncated varint');
      const b = bytes[at++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
    return Number(BigInt.asIntN(64, result));
  };
  while (at < bytes.length) {
    const key = varint();
    const field = key >>> 3;
    const wireType = key & 7;
    if (wireType === 0) fields.push({ field, wireType, value: varint() });
    else if (wireType === 2) {
      const length = varint();
      if (length < 0 || at + length > bytes.length) throw new Error('length-delimited field runs past the end');
      fields.push({ field, wireType, value: bytes.subarray(at, at + length) });
      at += length;
    } else if (wireType === 1 || wireType === 5) {
      at += wireType === 1 ? 8 : 4;
      if (at > bytes.length) throw new Error('fixed-width field runs past the end');
      fields.push({ field, wireType, value: undefined });
    } else throw new Error(`unsupported wire type ${wireType}`);
  }
  return fields;
}
