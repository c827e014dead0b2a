import { ModelPackageError } from '../../util/errors';

// jsfive ships CommonJS and no types; only the few members used here are declared.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsfive = require('jsfive') as {
  File: new (buffer: ArrayBuffer, name: string) => JsfiveGroup;
  Group: new (...args: never[]) => JsfiveGroup;
};

interface JsfiveNode {
  attrs: Record<string, unknown>;
}
interface JsfiveGroup extends JsfiveNode {
  keys: string[];
  get(path: string): JsfiveGroup | JsfiveDataset;
}
interface JsfiveDataset extends JsfiveNode {
  shape: number[];
  dtype: unknown;
  value: ArrayLike<number>;
  _dataobjects: {
    find_msg_type(type: number): Array<Map<string, number>>;
    _get_data_message_properties(offset: number): [number, number, number, number];
  };
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const DATA_STORAGE_MSG_TYPE = 0x0008;
const CONTIGUOUS_LAYOUT = 1;
const FLOAT_DTYPES: Record<string, number> = { '<f4': 4, '<f8': 8, '<f2': 2 };

/** True when the bytes start with HDF5's signature (the superblock at offset 0, as Keras writes it). */
export function isHdf5(bytes: Uint8Array): boolean {
  return HDF5_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * A read-only view of an HDF5 file held in memory, over jsfive (a pure-JS reader: no native
 * build, no WASM start-up). Every failure becomes a ModelPackageError naming `file` and what
 * could not be read; jsfive throws plain strings, so they are wrapped here.
 */
export class Hdf5File {
  private readonly root: JsfiveGroup;

  constructor(private readonly bytes: Uint8Array, readonly file: string) {
    if (!isHdf5(bytes)) throw new ModelPackageError(file, 'is not an HDF5 file (no HDF5 signature)');
    const declared = declaredEndOfFile(bytes);
    if (declared !== undefined && bytes.byteLength < declared) throw new ModelPackageError(file, `is truncated: its HDF5 superblock declares ${declared} bytes but the file has ${bytes.byteLength}`);
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (new Uint8Array(bytes).buffer as ArrayBuffer);
    this.root = this.guard('its superblock and root group', () => new jsfive.File(own, file));
    this.bytes = new Uint8Array(own);
  }

  has(path: string): boolean {
    return this.guard(`'${path}'`, () => walk(this.root, path, true) !== undefined);
  }

  isGroup(path: string): boolean {
    const node = this.guard(`'${path}'`, () => walk(this.root, path, true));
    return node !== undefined && node instanceof jsfive.Group;
  }

  children(path: string): string[] {
    return this.guard(`the group '${path}'`, () => [...(walk(this.root, path) as JsfiveGroup).keys]);
  }

  /** A string attribute (Keras writes JSON and versions as strings; old h5py pads them with NULs). */
  stringAttr(path: string, name: string): string | undefined {
    const value = this.guard(`attribute '${name}' of '${path || '/'}'`, () => (walk(this.root, path) as JsfiveNode).attrs[name]);
    return typeof value === 'string' ? stripNul(value) : undefined;
  }

  stringListAttr(path: string, name: string): string[] | undefined {
    const value = this.guard(`attribute '${name}' of '${path || '/'}'`, () => (walk(this.root, path) as JsfiveNode).attrs[name]);
    if (typeof value === 'string') return [stripNul(value)];
    return Array.isArray(value) ? value.map((v) => stripNul(String(v))) : undefined;
  }

  /** A float dataset's shape, without reading its values. */
  shape(path: string): number[] {
    return this.guard(`the dataset '${path}'`, () => [...(walk(this.root, path) as JsfiveDataset).shape]);
  }

  /**
   * A float dataset's values as float32. Contiguous little-endian float32 (what Keras writes)
   * is copied straight from the file's bytes: jsfive's own reader builds a JS array of boxed
   * numbers, twice the memory of the weights. Other layouts (chunked, float64/16) go through it.
   */
  readFloat32(path: string): Float32Array {
    const dataset = this.guard(`the dataset '${path}'`, () => walk(this.root, path) as JsfiveDataset);
    const dtype = typeof dataset.dtype === 'string' ? dataset.dtype : JSON.stringify(dataset.dtype);
    if (!(dtype in FLOAT_DTYPES)) throw new ModelPackageError(this.file, `dataset '${path}' holds ${dtype} values, expected little-endian floats`);
    const count = dataset.shape.reduce((a, b) => a * b, 1);
    const offset = dtype === '<f4' ? this.contiguousOffset(dataset, path) : undefined;
    if (offset !== undefined) {
      const end = offset + count * 4;
      if (end > this.bytes.byteLength) throw new ModelPackageError(this.file, `is truncated: dataset '${path}' ends at byte ${end} but the file has ${this.bytes.byteLength}`);
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(this.bytes.subarray(offset, end));
      return out;
    }
    const values = this.guard(`the values of '${path}'`, () => dataset.value);
    if (values.length !== count) throw new ModelPackageError(this.file, `dataset '${path}' has ${values.length} values, its shape says ${count}`);
    return Float32Array.from(values);
  }

  private contiguousOffset(dataset: JsfiveDataset, path: string): number | undefined {
    return this.guard(`the storage layout of '${path}'`, () => {
      const objects = dataset._dataobjects;
      const msg = objects.find_msg_type(DATA_STORAGE_MSG_TYPE)[0];
      const [, , layout, propertyOffset] = objects._get_data_message_properties(msg.get('offset_to_message')!);
      if (layout !== CONTIGUOUS_LAYOUT) return undefined;
      const address = new DataView(this.bytes.buffer, this.bytes.byteOffset).getBigUint64(propertyOffset, true);
      return address === 0xffffffffffffffffn ? undefined : Number(address);
    });
  }

  private guard<T>(what: string, read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (err instanceof ModelPackageError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new ModelPackageError(this.file, `cannot read ${what} (${reason.split('\n')[0] || 'corrupt or truncated HDF5'})`);
    }
  }
}

/**
 * The end-of-file address the superblock records (HDF5 file format spec, superblock versions
 * 0-3), so a file cut short is refused even where the missing part holds nothing jsfive reads.
 */
function declaredEndOfFile(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[8];
  const offsetSize = version <= 1 ? bytes[13] : bytes[9];
  if (offsetSize !== 8 && offsetSize !== 4) return undefined;
  // v0/v1: fixed fields, then base, free-space and end-of-file addresses; v2/v3: base, extension, end-of-file.
  const fieldsEnd = version === 0 ? 24 : version === 1 ? 28 : 12;
  const at = fieldsEnd + 2 * offsetSize;
  if (at + offsetSize > bytes.byteLength) return Number.MAX_SAFE_INTEGER;
  return offsetSize === 8 ? Number(view.getBigUint64(at, true)) : view.getUint32(at, true);
}

function walk(root: JsfiveGroup, path: string, optional = false): JsfiveGroup | JsfiveDataset | undefined {
  let node: JsfiveGroup | JsfiveDataset = root;
  for (const part of path.split('/').filter(Boolean)) {
    if (!(node instanceof jsfive.Group) || !(node as JsfiveGroup).keys.includes(part)) {
      if (optional) return undefined;
      throw new Error(`'${part}' not found`);
    }
    node = (node as JsfiveGroup).get(part);
  }
  return node;
}

function stripNul(s: string): string {
  return s.replace(/\0+$/, '');
}
