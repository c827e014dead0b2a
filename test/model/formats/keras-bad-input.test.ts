import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { loadModelPackage } from '../../../src/model/model-package';
import { selectBackend } from '../../../src/model/backend';
import { ModelPackageError } from '../../../src/util/errors';
import { projectRoot, tempDir } from '../../helpers/fixtures';

const FIXTURES = path.join(projectRoot, 'test', 'fixtures', 'keras-models');

async function refused(file: string, problem: RegExp): Promise<void> {
  await assert.rejects(loadModelPackage(file), (err: unknown) => {
    assert.ok(err instanceof ModelPackageError, `expected ModelPackageError, got ${String(err)}`);
    assert.ok(err.message.includes(file), `names the file: ${err.message}`);
    assert.match(err.message, problem);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

/** A zip in the layout Python's zipfile writes (local headers, central directory, end record). */
function zip(entries: Array<{ name: string; data: Buffer; deflate?: boolean; declaredSize?: number }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate ? zlib.deflateRawSync(e.data) : e.data;
    const name = Buffer.from(e.name);
    const crc = zlib.crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** The three entries of a real .keras fixture, to rebuild it with one thing broken. */
function kerasEntries(): Record<string, Buffer> {
  // The fixtures are stored (method 0), so each entry's bytes sit whole after its local header.
  const bytes = fs.readFileSync(path.join(FIXTURES, 'goubigon_mnist_model.keras'));
  const out: Record<string, Buffer> = {};
  let at = 0;
  while (bytes.readUInt32LE(at) === 0x04034b50) {
    const size = bytes.readUInt32LE(at + 18);
    const nameLength = bytes.readUInt16LE(at + 26);
    const start = at + 30 + nameLength + bytes.readUInt16LE(at + 28);
    out[bytes.subarray(at + 30, at + 30 + nameLength).toString()] = bytes.subarray(start, start + size);
    at = start + size;
  }
  return out;
}

describe('Keras files that must be refused, one line naming the file', function () {
  this.timeout(60_000);
  before(async () => {
    await selectBackend('auto');
  });

  it('a file that is neither HDF5 nor zip', async () => {
    const file = path.join(tempDir(), 'model.h5');
    fs.writeFileSync(file, 'this is a text file, not a model\n');
    await refused(file, /neither an HDF5 file .* nor a zip/);
  });

  it('a truncated HDF5 model (cut at half its length)', async () => {
    const file = path.join(tempDir(), 'cut.h5');
    const whole = fs.readFileSync(path.join(FIXTURES, 'himalrana_mnist_cnn.h5'));
    fs.writeFileSync(file, whole.subarray(0, whole.length >> 1));
    await refused(file, /truncated|cannot read/);
  });

  it('a weights-only HDF5 file (save_weights) says to save the whole model', async () => {
    const file = path.join(tempDir(), 'model.weights.h5');
    fs.writeFileSync(file, kerasEntries()['model.weights.h5']);
    await refused(file, /weights only, no architecture .*model\.save\(/);
  });

  it('a .keras whose entry climbs out of the archive (path traversal)', async () => {
    const e = kerasEntries();
    const file = path.join(tempDir(), 'evil.keras');
    fs.writeFileSync(file, zip([{ name: 'config.json', data: e['config.json'] }, { name: '../../etc/cron.d/x', data: Buffer.from('x') }, { name: 'model.weights.h5', data: e['model.weights.h5'] }]));
    await refused(file, /zip entry '\.\.\/\.\.\/etc\/cron\.d\/x' points outside the archive/);
  });

  it('a .keras zip bomb (declared sizes past the bound) is refused before inflating', async () => {
    const e = kerasEntries();
    const file = path.join(tempDir(), 'bomb.keras');
    fs.writeFileSync(file, zip([{ name: 'config.json', data: e['config.json'] }, { name: 'model.weights.h5', data: e['model.weights.h5'], deflate: true }, { name: 'pad', data: Buffer.alloc(1 << 20), deflate: true, declaredSize: 0xffffffff }]));
    await refused(file, /declare \d+ bytes uncompressed, more than/);
  });

  it('a .keras entry that inflates to other than its declared size', async () => {
    const e = kerasEntries();
    const file = path.join(tempDir(), 'liar.keras');
    fs.writeFileSync(file, zip([{ name: 'config.json', data: e['config.json'], deflate: true, declaredSize: 100 }, { name: 'model.weights.h5', data: e['model.weights.h5'] }]));
    await refused(file, /config\.json' does not inflate to its declared 100 bytes|has \d+ bytes, its header declares 100/);
  });

  it('a Lambda layer names the layer, its class and why', async () => {
    const e = kerasEntries();
    const config = JSON.parse(e['config.json'].toString());
    config.config.layers.splice(2, 0, { module: 'keras.layers', class_name: 'Lambda', config: { name: 'my_lambda', function: 'x' }, registered_name: null });
    const file = path.join(tempDir(), 'lambda.keras');
    fs.writeFileSync(file, zip([{ name: 'config.json', data: Buffer.from(JSON.stringify(config)) }, { name: 'model.weights.h5', data: e['model.weights.h5'] }]));
    await refused(file, /layer 'my_lambda' \(Lambda\): holds Python code/);
  });

  it('channels_first names the layer and the option', async () => {
    const e = kerasEntries();
    const config = JSON.parse(e['config.json'].toString());
    const conv = config.config.layers.find((l: { class_name: string }) => l.class_name === 'Conv2D');
    conv.config.data_format = 'channels_first';
    const file = path.join(tempDir(), 'cf.keras');
    fs.writeFileSync(file, zip([{ name: 'config.json', data: Buffer.from(JSON.stringify(config)) }, { name: 'model.weights.h5', data: e['model.weights.h5'] }]));
    await refused(file, new RegExp(`layer '${conv.config.name}' \\(Conv2D\\): data_format 'channels_first'`));
  });

  it('a layer whose config disagrees with its stored weights names the layer and both shapes', async () => {
    const e = kerasEntries();
    const config = JSON.parse(e['config.json'].toString());
    const dense = config.config.layers.filter((l: { class_name: string }) => l.class_name === 'Dense').pop();
    dense.config.units = 300000;
    const file = path.join(tempDir(), 'units.keras');
    fs.writeFileSync(file, zip([{ name: 'config.json', data: Buffer.from(JSON.stringify(config)) }, { name: 'model.weights.h5', data: e['model.weights.h5'] }]));
    await refused(file, new RegExp(`layer '${dense.config.name}' \\(Dense\\) is configured for kernel \\[\\?, 300000\\]`));
  });

  it('a layer added to the config with no variables stored names the layer and the missing variable', async () => {
    const e = kerasEntries();
    const config = JSON.parse(e['config.json'].toString());
    const layers = config.config.layers;
    layers.splice(layers.length - 1, 0, { module: 'keras.layers', class_name: 'Dense', config: { name: 'extra_dense', units: 10, activation: 'relu', use_bias: true }, registered_name: null });
    const file = path.join(tempDir(), 'extra.keras');
    fs.writeFileSync(file, zip([{ name: 'config.json', data: Buffer.from(JSON.stringify(config)) }, { name: 'model.weights.h5', data: e['model.weights.h5'] }]));
    await refused(file, /\(Dense\): variable 'kernel' is missing/);
  });
});
