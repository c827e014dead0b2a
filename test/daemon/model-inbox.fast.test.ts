import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelInbox, type PackageInstaller } from '../../src/daemon/model-inbox';
import { ModelPackageError } from '../../src/util/errors';
import { silentLogger } from '../../src/util/logger';
import { defaultModelDir, tempDir } from '../helpers/fixtures';

/**
 * The inbox's rules with its clock in the test's hands: no timer runs (poll() is called), and
 * "now" is whatever the test says, so "unchanged for settleMs" takes no waiting.
 */
describe('model inbox (stub hand-off, controlled clock)', () => {
  const settleMs = 3000;
  let stateDir: string;
  let now: number;
  let installed: string[];
  let refuseWith: string | undefined;
  let inbox: ModelInbox;

  const installer: PackageInstaller = {
    install: async (dir) => {
      // The hand-off sees the folder the inbox moved the package to, before it is removed.
      installed.push(fs.readdirSync(dir).sort().join(','));
      if (refuseWith) throw new ModelPackageError(path.join(dir, 'model.json'), refuseWith);
      return undefined as never;
    },
  };

  /** Copies the default package into the inbox, dated `ageMs` before the test's now. */
  function drop(name: string, files = fs.readdirSync(defaultModelDir), ageMs = 0): string {
    const dir = path.join(stateDir, 'inbox', name);
    fs.mkdirSync(dir, { recursive: true });
    for (const file of files) fs.copyFileSync(path.join(defaultModelDir, file), path.join(dir, file));
    age(dir, ageMs);
    return dir;
  }

  function age(dir: string, ageMs: number): void {
    const when = new Date(now - ageMs);
    for (const file of fs.readdirSync(dir)) fs.utimesSync(path.join(dir, file), when, when);
  }

  beforeEach(() => {
    stateDir = tempDir('edgesight-inbox-');
    now = Date.now();
    installed = [];
    refuseWith = undefined;
    inbox = new ModelInbox(stateDir, installer, silentLogger(), { settleMs, clock: () => now });
    fs.mkdirSync(inbox.dir, { recursive: true });
  });

  it('takes a complete package only after two looks that saw it unchanged and settleMs old', async () => {
    drop('pkg');
    await inbox.poll();
    assert.deepEqual(installed, [], 'taken at first sight');
    await inbox.poll();
    assert.deepEqual(installed, [], 'taken before it was settleMs old');
    now += settleMs;
    await inbox.poll();
    assert.deepEqual(installed, ['metadata.json,model.json,weights.bin']);
    assert.equal(fs.existsSync(path.join(inbox.dir, 'pkg')), false, 'a taken package leaves the inbox');
  });

  it('never takes a half-copied package, however long it waits, and takes it once the rest arrives', async () => {
    const dir = drop('half', ['model.json', 'metadata.json'], 60_000);
    for (let i = 0; i < 3; i++) {
      await inbox.poll();
      now += settleMs;
    }
    assert.deepEqual(installed, []);
    fs.copyFileSync(path.join(defaultModelDir, 'weights.bin'), path.join(dir, 'weights.bin'));
    age(dir, 0);
    await inbox.poll();
    now += settleMs;
    await inbox.poll();
    assert.equal(installed.length, 1);
  });

  it('waits again when a file changes between looks', async () => {
    const dir = drop('moving', undefined, 60_000);
    await inbox.poll();
    fs.appendFileSync(path.join(dir, 'metadata.json'), ' ');
    age(dir, 60_000);
    await inbox.poll();
    assert.deepEqual(installed, [], 'taken although it changed since the last look');
    await inbox.poll();
    assert.equal(installed.length, 1);
  });

  it('moves a refused package to .rejected with the reason, and looks at the next', async () => {
    refuseWith = 'self-test failed: 3 of 10 images wrong';
    drop('bad', undefined, 60_000);
    await inbox.poll();
    await inbox.poll();
    const rejected = fs.readdirSync(path.join(inbox.dir, '.rejected'));
    assert.equal(rejected.length, 1);
    const reason = fs.readFileSync(path.join(inbox.dir, '.rejected', rejected[0], 'REJECTED.txt'), 'utf8');
    assert.match(reason, /self-test failed: 3 of 10 images wrong/);
    refuseWith = undefined;
    drop('good', undefined, 60_000);
    await inbox.poll();
    await inbox.poll();
    assert.equal(installed.length, 2);
  });
});
