import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const srcDir = path.join(root, 'src');

/** The layer order as the README's Architecture section states it, lowest first. */
function documentedLayers(): string[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const line = /<!-- layers -->\n(.+)\n/.exec(readme)?.[1];
  assert.ok(line, 'README.md has no line after <!-- layers -->');
  return line.split('→').map((part) => part.trim().replace(/`/g, ''));
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|js)$/.test(entry.name) ? [full] : [];
  });
}

/** Relative imports and requires of a TypeScript file, type-only ones included (they couple the layers all the same). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:from|import|require)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) specs.push(m[1]);
  return specs;
}

function layerOf(dir: string, file: string): string {
  return path.relative(dir, file).split(path.sep)[0];
}

describe('layering: imports follow the README order', () => {
  it('names every top-level folder of src/ exactly once', () => {
    const layers = documentedLayers();
    const folders = fs
      .readdirSync(srcDir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    assert.deepEqual([...layers].sort(), [...new Set(layers)].sort(), 'a layer is named twice');
    assert.deepEqual([...layers].sort(), [...folders].sort());
  });

  it('has no import from a higher layer', () => {
    assert.deepEqual(upwardImports(srcDir, documentedLayers()), []);
  });

  it('reports an upward import, type-only or not (the check can fail)', () => {
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'edgesight-layers-'));
    try {
      fs.mkdirSync(path.join(tree, 'config'));
      fs.mkdirSync(path.join(tree, 'model'));
      fs.writeFileSync(path.join(tree, 'model', 'backend.ts'), "import { x } from '../config/schema';\n");
      fs.writeFileSync(path.join(tree, 'config', 'schema.ts'), "import type { BackendPreference } from '../model/backend';\n");
      assert.deepEqual(
        upwardImports(tree, ['config', 'model']).map((v) => v.replace(tree, 'TREE')),
        ['TREE/config/schema.ts (config) imports ../model/backend (model)'],
      );
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  });
});

function upwardImports(dir: string, layers: string[]): string[] {
  const against: string[] = [];
  for (const file of sourceFiles(dir)) {
    const from = layerOf(dir, file);
    for (const spec of importsOf(file)) {
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(dir + path.sep)) continue;
      const to = layerOf(dir, target);
      if (layers.indexOf(to) > layers.indexOf(from)) against.push(`${file} (${from}) imports ${spec} (${to})`);
    }
  }
  return against;
}
