import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { SERVICE_ENVIRONMENT } from '../../src/bench/runner';
import { writeSeedCnnPackage } from '../../src/bench/seed-model';
import { directorySaveHandler, METADATA_JSON } from '../../src/model/package-io';
import { seedCnn } from '../../src/train/architectures';
import { thirtyFpsClip, waitUntil } from '../helpers/daemon';
import { projectRoot, tempDir } from '../helpers/fixtures';
import { LiveClient } from '../helpers/live-client';
import { MemoryCgroup } from '../helpers/memory-cgroup';
import { digitsPackage, formOf } from '../helpers/model-packages';
import { spawnDaemon, type SpawnedDaemon } from '../helpers/spawned-daemon';

const MB = 1048576;

/** MemoryMax= of systemd/edgesight.service, in bytes: the test runs under the unit's own number. */
function unitMemoryMax(): number {
  const unit = fs.readFileSync(path.join(projectRoot, 'systemd', 'edgesight.service'), 'utf8');
  const match = /^MemoryMax=(\d+)([KMG])$/m.exec(unit);
  assert.ok(match, 'systemd/edgesight.service has no MemoryMax=<n>K|M|G line');
  return Number(match[1]) * { K: 1024, M: MB, G: 1024 * MB }[match[2] as 'K' | 'M' | 'G'];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The seed CNN at 100x100: 66 MB of weights, the middle of what the unit admits on a hot-swap. */
async function writeSeedCnn100(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const model = seedCnn({ height: 100, width: 100, channels: 3, classes: 2, seed: 100 });
  await model.save(directorySaveHandler(dir));
  model.dispose();
  const preprocess = { width: 100, height: 100, channels: 3, resizeMode: 'stretch', colorOrder: 'rgb', range: [0, 1], invert: false, contrast: 'none' };
  fs.writeFileSync(path.join(dir, METADATA_JSON), JSON.stringify({ name: 'seed-cnn-100', version: 'hundred', labels: ['cat', 'dog'], preprocess, outputActivation: 'softmax' }));
}

/**
 * The real daemon as the unit runs it (its NODE_OPTIONS and MALLOC_ARENA_MAX, a process of its
 * own) inside a cgroup v1 memory cgroup limited to the unit's MemoryMax, so that the kernel
 * kills it if a swap passes the limit. The course's 150x150 CNN (162 MB of weights) must be
 * refused with the reason while the default model keeps serving; a 66 MB model must be taken
 * and survive the limit; a start with the big model as model.path must exit 3 with the reason.
 */
describe('model loads against the memory limit, under a real cgroup limited like the unit (MemoryMax)', function () {
  this.timeout(600_000);
  const limit = unitMemoryMax();
  let group: MemoryCgroup | undefined;
  let daemon: SpawnedDaemon | undefined;
  let viewer: LiveClient | undefined;
  let base = '';
  let headers: Record<string, string> = {};
  let bigCnn = '';
  const work = tempDir('edgesight-memlimit-');

  const upload = (dir: string) => fetch(base + '/api/model', { method: 'POST', body: formOf(dir), headers });
  const serving = async () => ((await (await fetch(base + '/api/model', { headers })).json()) as { version: string }).version;
  const framesIn = async (ms: number) => {
    const from = viewer!.frames.length;
    await new Promise((r) => setTimeout(r, ms));
    return viewer!.frames.length - from;
  };

  before(async function () {
    const made = MemoryCgroup.create(`edgesight-test-${process.pid}`, limit);
    if ('unavailable' in made) {
      console.log(`      skipped: needs a memory cgroup to run the daemon under a real limit: ${made.unavailable}`);
      return this.skip();
    }
    group = made;
    bigCnn = path.join(work, 'seed-cnn-150');
    await writeSeedCnnPackage(bigCnn);
    const port = await freePort();
    // Inside `work`: the models the daemon stores (66 MB) go with it.
    const stateDir = path.join(work, 'state');
    // maxUploadMB raised so that the upload reaches the hand-off: the memory check is under test, not the size limit.
    daemon = spawnDaemon(['--source', thirtyFpsClip().file, '--host', '127.0.0.1', '--port', String(port), '--set', `state.dir=${stateDir}`, '--set', 'server.maxUploadMB=256'], { env: SERVICE_ENVIRONMENT, cgroupProcs: group.procsFile });
    await daemon.waitForLine(/dashboard (access token created|at )/, 180_000);
    base = `http://127.0.0.1:${port}`;
    headers = { Authorization: `Bearer ${fs.readFileSync(path.join(stateDir, 'token'), 'utf8').trim()}` };
    viewer = new LiveClient(base, { token: headers.Authorization.slice(7) });
    await viewer.connected();
    await waitUntil('the stream running', () => viewer!.frames.length > 30, 60_000);
  });

  after(async () => {
    viewer?.close();
    await daemon?.stop();
    await group?.remove();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it(`refuses the 150x150 CNN (162 MB of weights) with 422 naming the limit, and the daemon lives on, serving the default model`, async () => {
    const before = await serving();
    const res = await upload(bigCnn);
    const body = (await res.json()) as { error: string };
    assert.equal(res.status, 422, JSON.stringify(body));
    assert.match(body.error, new RegExp(`model\\.json: weights of 162 MB need about \\d+ MB at the swap's peak beside the running model \\(now \\d+ MB\\), over this process's memory limit \\(memory\\.limit_in_bytes in [^)]+\\) of ${limit / MB} MB`));
    assert.equal(daemon!.child.exitCode, null, 'the daemon exited');
    assert.equal(group!.oomKills, 0, 'the kernel killed a process in the cgroup');
    assert.equal(await serving(), before);
    assert.equal((await fetch(base + '/healthz')).status, 200);
    assert.ok((await framesIn(2000)) > 20, 'the stream stopped');
  });

  it('takes a 66 MB model under the same limit, and the swap stays inside it', async () => {
    const hundred = path.join(work, 'seed-cnn-100');
    await writeSeedCnn100(hundred);
    group!.resetMaxUsage();
    const res = await upload(hundred);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(await serving(), 'hundred');
    assert.equal(group!.oomKills, 0, 'the kernel killed a process in the cgroup during the swap');
    assert.ok(group!.maxUsageBytes <= limit);
    assert.ok((await framesIn(2000)) > 5, 'the new model does not classify the stream');
    // Back to the small default for the rest: a second swap beside 66 MB is the estimate's business, not this test's.
    const digits = await upload(digitsPackage('after-hundred'));
    assert.equal(digits.status, 200, await digits.clone().text());
  });

  it('exits 3 with the reason when started with the 150x150 CNN as model.path under the same limit (not killed by the kernel)', async () => {
    const startGroup = MemoryCgroup.create(`edgesight-test-${process.pid}-start`, limit);
    if ('unavailable' in startGroup) throw new Error(startGroup.unavailable);
    try {
      const starting = spawnDaemon(['--source', thirtyFpsClip().file, '--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${path.join(work, 'state-start')}`, '--set', `model.path=${bigCnn}`], { env: SERVICE_ENVIRONMENT, cgroupProcs: startGroup.procsFile });
      const code = await starting.exited;
      assert.equal(code, 3, starting.lines.join('\n'));
      assert.match(starting.lines.join('\n'), new RegExp(`model\\.json: weights of 162 MB need about \\d+ MB to load \\(the daemon holds \\d+ MB before it\\), over this process's memory limit .* of ${limit / MB} MB`));
      assert.equal(startGroup.oomKills, 0);
    } finally {
      await startGroup.remove();
    }
  });
});
