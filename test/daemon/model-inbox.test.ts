import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { ModelHandoff } from '../../src/daemon/model-handoff';
import { ModelInbox } from '../../src/daemon/model-inbox';
import { ModelStore } from '../../src/daemon/model-store';
import { selectBackend } from '../../src/model/backend';
import { Classifier } from '../../src/model/classifier';
import { loadModelPackage } from '../../src/model/model-package';
import { waitUntil } from '../helpers/daemon';
import { defaultModelDir, tempDir, writeTinyPackage } from '../helpers/fixtures';

/** Every entry under `dir` (links as links) with its kind and content hash: what "unchanged" means outside the state directory. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const name of fs.readdirSync(path.join(dir, sub))) {
      const relative = path.join(sub, name);
      const full = path.join(dir, relative);
      const stat = fs.lstatSync(full);
      if (stat.isSymbolicLink()) out[relative] = `link ${fs.readlinkSync(full)}`;
      else if (stat.isDirectory()) {
        out[relative] = 'dir';
        walk(relative);
      } else out[relative] = `file ${createHash('sha256').update(fs.readFileSync(full)).digest('hex')}`;
    }
  };
  walk('');
  return out;
}

describe('model inbox never follows links and one bad folder blocks nothing (real inbox, hand-off, store, files)', function () {
  this.timeout(120_000);
  let root: string;
  let stateDir: string;
  let outside: string;
  let inboxDir: string;
  let rejected: string;
  let inbox: ModelInbox;
  let serving: Classifier;
  const logLines: string[] = [];

  /** A tiny package whose metadata lists 2 labels for 3 outputs: complete, but the hand-off refuses it. */
  const brokenPackage = async (dir: string) => writeTinyPackage(dir, { labels: ['a', 'b'] });
  const rejectedEntry = (name: string) => fs.readdirSync(rejected).find((n) => n.includes(name));
  const waitForRejection = (name: string) => waitUntil(`${name} in .rejected`, () => fs.existsSync(rejected) && rejectedEntry(name), 15_000);
  const servingVersion = () => serving.loaded.metadata.version;

  before(async () => {
    await selectBackend('auto');
    root = tempDir('edgesight-inbox-');
    stateDir = path.join(root, 'state');
    outside = path.join(root, 'outside');
    inboxDir = path.join(stateDir, 'inbox');
    rejected = path.join(inboxDir, '.rejected');
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, 'canary.txt'), 'do not touch\n');
    serving = new Classifier(await loadModelPackage(defaultModelDir));
    const target = {
      swap: (next: Classifier) => {
        const old = serving;
        serving = next;
        return old;
      },
      servingDir: () => serving.loaded.dir,
    };
    const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    const handoff = new ModelHandoff(new ModelStore(stateDir), target, log, { backend: 'wasm' });
    inbox = new ModelInbox(stateDir, handoff, log, { pollMs: 100, settleMs: 300 });
    inbox.start();
  });
  after(() => inbox?.stop());

  it('refuses a symlinked package folder and writes nothing outside the state directory', async () => {
    await brokenPackage(path.join(outside, 'elsewhere'));
    const before = snapshot(outside);
    fs.symlinkSync(path.join(outside, 'elsewhere'), path.join(inboxDir, 'linked-folder'));
    const entry = await waitForRejection('linked-folder');
    assert.deepEqual(snapshot(outside), before, 'something outside the state directory changed');
    assert.deepEqual(fs.readdirSync(root).sort(), ['outside', 'state']);
    assert.match(fs.readFileSync(path.join(rejected, entry, 'REJECTED.txt'), 'utf8'), /linked-folder is a symbolic link \(to .*elsewhere\); links in the inbox are never followed/);
    assert.ok(fs.lstatSync(path.join(rejected, entry, 'REJECTED.txt')).isFile());
    assert.ok(logLines.some((l) => /"level":50/.test(l) && /linked-folder is a symbolic link/.test(l)), 'no error log line names the link');
    assert.equal(serving.loaded.dir, defaultModelDir);
  });

  it('never writes through a REJECTED.txt that is a link: the canary it points to stays as it was', async () => {
    const pkg = path.join(inboxDir, 'planted');
    await brokenPackage(path.join(root, 'staging-planted'));
    fs.symlinkSync(path.join(outside, 'canary.txt'), path.join(root, 'staging-planted', 'REJECTED.txt'));
    fs.renameSync(path.join(root, 'staging-planted'), pkg);
    const before = snapshot(outside);
    const entry = await waitForRejection('planted');
    const reasonFile = path.join(rejected, entry, 'REJECTED.txt');
    await waitUntil('the reason written', () => fs.lstatSync(reasonFile).isFile());
    assert.deepEqual(snapshot(outside), before, 'something outside the state directory changed');
    assert.equal(fs.readFileSync(path.join(outside, 'canary.txt'), 'utf8'), 'do not touch\n');
    assert.match(fs.readFileSync(reasonFile, 'utf8'), /REJECTED\.txt is a symbolic link/);
  });

  it('refuses a package whose weights.bin links to a file outside, naming it, and keeps serving', async () => {
    const staging = path.join(root, 'staging-weights');
    await writeTinyPackage(staging, { metadata: { version: 'linked-weights' } });
    fs.renameSync(path.join(staging, 'weights.bin'), path.join(outside, 'weights.bin'));
    fs.symlinkSync(path.join(outside, 'weights.bin'), path.join(staging, 'weights.bin'));
    const before = snapshot(outside);
    fs.renameSync(staging, path.join(inboxDir, 'linked-weights'));
    // Taken or refused, the folder leaves the inbox; which one it was is checked below.
    await waitUntil('linked-weights out of the inbox', () => !fs.existsSync(path.join(inboxDir, 'linked-weights')), 15_000);
    assert.notEqual(servingVersion(), 'linked-weights', 'the package with linked weights was put in service');
    const entry = await waitForRejection('linked-weights');
    assert.match(fs.readFileSync(path.join(rejected, entry, 'REJECTED.txt'), 'utf8'), /weights\.bin is a symbolic link/);
    assert.ok(!fs.existsSync(path.join(stateDir, 'models', 'active')), 'the linked package reached the store');
    assert.deepEqual(snapshot(outside), before, 'something outside the state directory changed');
  });

  it('refuses folders with a non-UTF-8 name or a dangling link one by one, and still takes the good package beside them', async () => {
    const badName = path.join(inboxDir, 'aaa-bad-name');
    await writeTinyPackage(badName);
    fs.writeFileSync(Buffer.concat([Buffer.from(badName + '/'), Buffer.from([0x6e, 0xff, 0x6f])]), 'x');
    const dangling = path.join(inboxDir, 'aab-dangling');
    await writeTinyPackage(dangling);
    fs.symlinkSync(path.join(outside, 'not-there'), path.join(dangling, 'notes.txt'));
    const badFolder = Buffer.concat([Buffer.from(inboxDir + '/aac-'), Buffer.from([0xfe])]);
    fs.mkdirSync(badFolder);
    fs.writeFileSync(Buffer.concat([badFolder, Buffer.from('/model.json')]), '{}');
    const before = snapshot(outside);
    await writeTinyPackage(path.join(root, 'zzz-good'), { metadata: { version: 'good' } });
    fs.renameSync(path.join(root, 'zzz-good'), path.join(inboxDir, 'zzz-good'));

    await waitUntil('the good package serving', () => servingVersion() === 'good', 15_000);
    assert.ok(fs.existsSync(path.join(stateDir, 'models', 'active', 'model.json')));
    assert.match(fs.readFileSync(path.join(rejected, await waitForRejection('aaa-bad-name'), 'REJECTED.txt'), 'utf8'), /n_o: file name is not valid UTF-8/);
    assert.match(fs.readFileSync(path.join(rejected, await waitForRejection('aab-dangling'), 'REJECTED.txt'), 'utf8'), /notes\.txt is a symbolic link \(to .*not-there\)/);
    assert.match(fs.readFileSync(path.join(rejected, await waitForRejection('aac-_'), 'REJECTED.txt'), 'utf8'), /folder name aac-_ is not valid UTF-8/);
    // The folder is removed after the swap: the model serves a moment before its folder goes.
    await waitUntil('the inbox to hold only .rejected (the good package and the refused ones gone from it)', () => fs.readdirSync(inboxDir).join() === '.rejected', 5_000);
    assert.deepEqual(snapshot(outside), before, 'something outside the state directory changed');
  });

  it('.rejected keeps the five newest refusals by time, not the five alphabetically last', async () => {
    // Refused in reverse alphabetical order: the oldest refusal (f) sorts last by name.
    for (const name of ['f', 'e', 'd', 'c', 'b', 'a']) {
      await brokenPackage(path.join(root, `late-${name}`));
      fs.renameSync(path.join(root, `late-${name}`), path.join(inboxDir, `late-${name}`));
      // The move to .rejected and the pruning happen together: once the folder is gone, both are done.
      await waitUntil(`late-${name} refused`, () => !fs.existsSync(path.join(inboxDir, `late-${name}`)), 15_000);
    }
    const kept = fs.readdirSync(rejected).map((n) => /late-[a-f]/.exec(n)?.[0] ?? n).sort();
    assert.deepEqual(kept, ['late-a', 'late-b', 'late-c', 'late-d', 'late-e']);
  });
});
