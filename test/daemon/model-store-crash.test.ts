import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelStore } from '../../src/daemon/model-store';
import { tempDir, writeTinyPackage } from '../helpers/fixtures';

const child = path.join(__dirname, 'store-crash-child.js');

/** Every file of a package folder and its bytes (as hex), or undefined when there is no folder. */
function contents(dir: string): Record<string, string> | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const out: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const relative = path.join(sub, entry.name);
      if (entry.isDirectory()) walk(relative);
      else out[relative] = fs.readFileSync(path.join(dir, relative)).toString('hex');
    }
  };
  walk('');
  return out;
}

/** A store holding `active` and `previous` as they would be after two hand-offs. */
function stateWith(active: string, previous: string): string {
  const stateDir = tempDir('edgesight-crash-');
  fs.cpSync(active, path.join(stateDir, 'models', 'active'), { recursive: true });
  fs.cpSync(previous, path.join(stateDir, 'models', 'previous'), { recursive: true });
  return stateDir;
}

/**
 * Kills the child after step 1, 2, ... until a run finishes; after each kill a fresh store's
 * recover() must leave active and previous as one of the allowed whole pairs, checked byte by byte.
 */
function crashAtEveryStep(op: 'install' | 'swap', packages: Record<string, string>, allowed: Array<[string, string]>, from?: string): number {
  const want = Object.fromEntries(Object.entries(packages).map(([name, dir]) => [name, contents(dir)]));
  const nameOf = (dir: string) => Object.keys(want).find((name) => JSON.stringify(want[name]) === JSON.stringify(contents(dir))) ?? 'none or a mix';
  for (let killAt = 1; ; killAt++) {
    const stateDir = stateWith(packages.A, packages.P);
    const run = spawnSync(process.execPath, [child, stateDir, op, String(killAt), ...(from ? [from] : [])], { encoding: 'utf8' });
    const finished = run.status === 0;
    assert.ok(finished || run.signal === 'SIGKILL', `child ended with ${run.status ?? run.signal}: ${run.stderr}`);
    const store = new ModelStore(stateDir);
    store.recover();
    const pair: [string, string] = [nameOf(store.activeDir), nameOf(store.previousDir)];
    assert.ok(
      allowed.some(([a, p]) => a === pair[0] && p === pair[1]),
      `${op}, ${run.stdout.trim()}: after recovery active is ${pair[0]} and previous ${pair[1]}; allowed ${allowed.map((x) => x.join('/')).join(' or ')}`,
    );
    assert.deepEqual(fs.readdirSync(store.root).sort(), ['active', 'previous'], `${op}, ${run.stdout.trim()}: recovery left folders behind`);
    if (finished) {
      assert.deepEqual(pair, allowed[allowed.length - 1], `${op} finished without reaching the new state`);
      return killAt;
    }
  }
}

describe('model store swaps survive kill -9 at every step (real files, a real child process)', function () {
  this.timeout(120_000);
  const packages: Record<string, string> = {};

  before(async () => {
    for (const name of ['A', 'P', 'N']) {
      packages[name] = path.join(tempDir(), name);
      await writeTinyPackage(packages[name], { metadata: { version: name } });
      // A second folder level, so that a kill between files of a nested folder is tried too.
      fs.mkdirSync(path.join(packages[name], 'notes'));
      fs.writeFileSync(path.join(packages[name], 'notes', 'README.txt'), `package ${name}\n`);
    }
  });

  it('install: killed after any step, recovery serves the old package (active A, previous P) or the new one (N, A) complete', () => {
    const steps = crashAtEveryStep('install', packages, [['A', 'P'], ['N', 'A']], packages.N);
    assert.ok(steps >= 8, `only ${steps - 1} steps were interrupted`);
  });

  it('rollback: killed after any step, recovery leaves active A / previous P or P / A, complete', () => {
    const steps = crashAtEveryStep('swap', packages, [['A', 'P'], ['P', 'A']]);
    assert.ok(steps >= 4, `only ${steps - 1} steps were interrupted`);
  });
});
