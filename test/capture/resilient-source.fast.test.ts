import { strict as assert } from 'node:assert';
import type { CapturedImage, FrameSource } from '../../src/capture/frame-source';
import { ResilientSource, type SourceHealth } from '../../src/capture/resilient-source';
import { cv } from '../../src/vision/cv';

type Fault = 'none' | 'throw' | 'stall' | 'late' | 'empty' | 'gray' | 'small';

/** A source whose faults are scripted: it fails to open, throws, stalls or returns bad frames on cue. */
class FaultySource implements FrameSource {
  readonly kind = 'camera' as const;
  readonly paceFps = undefined;
  reads = 0;
  closed = false;
  constructor(
    readonly description: string,
    private readonly openFails: boolean,
    private readonly faultAt: (read: number) => Fault,
  ) {}
  async open(): Promise<void> {
    if (this.openFails) throw new Error(`${this.description}: no such device`);
  }
  async read(): Promise<CapturedImage | null> {
    const fault = this.faultAt(++this.reads);
    if (fault === 'throw') throw new Error('read failed: device unplugged');
    if (fault === 'stall') return new Promise(() => undefined);
    if (fault === 'late') return new Promise((resolve) => setTimeout(() => resolve({ mat: new cv.Mat(48, 64, cv.CV_8UC3, [0, 0, 0]) }), 400));
    if (fault === 'empty') return { mat: new cv.Mat() };
    if (fault === 'gray') return { mat: new cv.Mat(48, 64, cv.CV_8UC1, 0) };
    if (fault === 'small') return { mat: new cv.Mat(10, 12, cv.CV_8UC3, [0, 0, 0]) };
    return { mat: new cv.Mat(48, 64, cv.CV_8UC3, [0, 128, 255]) };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function harness(first: FrameSource, builds: Array<() => FrameSource>, stallMs = 200) {
  const health: SourceHealth[] = [];
  let built = 0;
  const source = new ResilientSource(first, () => builds[Math.min(built++, builds.length - 1)](), { stallMs, minBackoffMs: 20, maxBackoffMs: 80, maxBadFrames: 5 });
  source.events.on('health', (h) => health.push(h));
  return { source, health, builtCount: () => built };
}

async function readGood(source: ResilientSource, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const image = await source.read();
    assert.ok(image, 'read returned null');
    assert.equal(image.mat.type, cv.CV_8UC3);
    image.mat.release();
  }
}

describe('ResilientSource (fault injection)', () => {
  it('reconnects after a read error with backoff doubling to the cap, reporting each attempt', async () => {
    const first = new FaultySource('cam A', false, (n) => (n === 3 ? 'throw' : 'none'));
    const failing = () => new FaultySource('cam A', true, () => 'none');
    const working = () => new FaultySource('cam A', false, () => 'none');
    const { source, health } = harness(first, [failing, failing, failing, failing, working]);
    await readGood(source, 5);
    const attempts = health.filter((h) => h.state === 'reconnecting') as Array<Extract<SourceHealth, { state: 'reconnecting' }>>;
    assert.deepEqual(attempts.map((h) => h.attempt), [1, 2, 3, 4, 5]);
    assert.deepEqual(attempts.map((h) => h.retryInMs), [20, 40, 80, 80, 80]);
    assert.match(attempts[0].error, /device unplugged/);
    assert.match(attempts[1].error, /no such device/);
    assert.equal(health[health.length - 1].state, 'open');
    await source.close();
  });

  it('abandons a stalled read and reopens, closing the stalled capture only once its read returns', async () => {
    const late = new FaultySource('cam B', false, (n) => (n === 2 ? 'late' : 'none'));
    const { source, health } = harness(late, [() => new FaultySource('cam B', false, () => 'none')], 100);
    const started = Date.now();
    await readGood(source, 3);
    assert.ok(Date.now() - started >= 100);
    const reconnect = health.find((h) => h.state === 'reconnecting') as Extract<SourceHealth, { state: 'reconnecting' }>;
    assert.match(reconnect.error, /no frame for .* \(stalled\)/);
    assert.equal(late.closed, false, 'closed while its read was still running');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(late.closed, 'the stalled capture was not closed after its read returned');

    const stuck = new FaultySource('cam B2', false, (n) => (n === 1 ? 'stall' : 'none'));
    const second = harness(stuck, [() => new FaultySource('cam B2', false, () => 'none')], 100);
    await readGood(second.source, 2);
    assert.equal(stuck.closed, false, 'a capture whose read never returned was released under it');
    await source.close();
    await second.source.close();
  });

  it('skips empty and non-BGR frames, passes other sizes, and reopens after a run of bad ones', async () => {
    const script: Fault[] = ['none', 'empty', 'gray', 'small', 'none'];
    const first = new FaultySource('cam C', false, (n) => script[n - 1] ?? 'empty');
    const { source, health, builtCount } = harness(first, [() => new FaultySource('cam C', false, () => 'none')]);
    const sizes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const image = (await source.read())!;
      sizes.push(`${image.mat.cols}x${image.mat.rows}`);
      image.mat.release();
    }
    // 64x48, (empty and gray skipped) 12x10, 64x48, then only empty frames: reopen, 64x48.
    assert.deepEqual(sizes, ['64x48', '12x10', '64x48', '64x48']);
    assert.equal(builtCount(), 1);
    assert.match((health.find((h) => h.state === 'reconnecting') as { error: string }).error, /5 bad frames in a row/);
    await source.close();
  });

  it('stops waiting when closed while reconnecting', async () => {
    const first = new FaultySource('cam D', false, () => 'throw');
    const source = new ResilientSource(first, () => new FaultySource('cam D', true, () => 'none'), { stallMs: 1000, minBackoffMs: 10_000 });
    const pending = source.read();
    await new Promise((r) => setTimeout(r, 50));
    await source.close();
    assert.equal(await pending, null);
  });
});
