import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { EventCutter } from '../../src/events/event-cutter';
import { EventStore } from '../../src/events/event-store';
import type { EventRecord } from '../../src/events/model';
import { silentLogger } from '../../src/util/logger';
import { tempDir } from '../helpers/fixtures';

/** Feeds one decision per 100 ms from a string: a letter is that label, '.' is uncertain. */
function cut(timeline: string, settings: { labels?: string[]; minSeconds: number; cooldownSeconds: number }) {
  const cutter = new EventCutter({ labels: settings.labels ?? [], minSeconds: settings.minSeconds, cooldownSeconds: settings.cooldownSeconds });
  const events: Array<{ label: string; start: number; end: number | null; startedAt: number }> = [];
  [...timeline].forEach((ch, i) => {
    const at = i * 100;
    const out = cutter.feed({ label: ch === '.' ? 'uncertain' : ch, confidence: 0.9, uncertain: ch === '.', at });
    if (out.ended) events.find((e) => e.end === null && e.label === out.ended!.label)!.end = out.ended.lastAt;
    if (out.started) events.push({ label: out.started.label, start: out.started.startAt, end: null, startedAt: at });
  });
  return events;
}

describe('events: cutting the decision stream', () => {
  it('an event starts once the label has held minSeconds, dates from the run start, and ends on the first other decision', () => {
    //          0123456789
    const ev = cut('..aaaa..bb', { minSeconds: 0.2, cooldownSeconds: 0 });
    assert.deepEqual(ev, [{ label: 'a', start: 200, end: 500, startedAt: 400 }]);
  });

  it('a run shorter than minSeconds is no event', () => {
    assert.deepEqual(cut('.aa.bb.aa.', { minSeconds: 0.2, cooldownSeconds: 0 }), []);
  });

  it('minSeconds 0 starts on the first frame', () => {
    assert.deepEqual(cut('a.', { minSeconds: 0, cooldownSeconds: 0 }), [{ label: 'a', start: 0, end: 0, startedAt: 0 }]);
  });

  it('cooldown: the same label flapping back within cooldownSeconds is no new event; another label is', () => {
    //                   0         1         2
    //                   012345678901234567890123
    const ev = cut('aaa.aaa.bbb.aaaaaaaaaaa.', { minSeconds: 0.1, cooldownSeconds: 1 });
    assert.deepEqual(
      ev.map((e) => [e.label, e.start, e.end]),
      [
        ['a', 0, 200],
        ['b', 800, 1000],
        // The run from 1200 reaches the end of a's cooldown (200 + 1000) at once: it starts then, dated from its first frame.
        ['a', 1200, 2200],
      ],
    );
  });

  it('events.labels limits events to labels of interest', () => {
    assert.deepEqual(cut('aaaa.bbbb.', { labels: ['b'], minSeconds: 0.1, cooldownSeconds: 0 }).map((e) => e.label), ['b']);
  });
});

function record(id: string, start: number, end: number | null): EventRecord {
  return { id, label: 'a', start, end, peakConfidence: 0.9, best: { seq: 1, at: start, confidence: 0.9 }, frames: 3, model: 'm', source: 's', snapshots: { annotated: false, raw: false } };
}

describe('events: the store on disk', () => {
  it('keeps events across a restart, and closes one left open by a crash as interrupted', async () => {
    const dir = tempDir('edgesight-events-');
    const a = new EventStore({ dir, retentionMs: 86_400_000, maxBytes: 1e9, log: silentLogger() });
    a.open();
    const now = Date.now();
    await a.save(record(`ev-${now.toString(36)}-aaaaaa`, now - 5000, now - 4000));
    await a.save(record(`ev-${(now + 1).toString(36)}-bbbbbb`, now - 3000, null));
    a.close();
    const b = new EventStore({ dir, retentionMs: 86_400_000, maxBytes: 1e9, log: silentLogger() });
    b.open();
    const { items, total } = b.list({ offset: 0, limit: 10 });
    b.close();
    assert.equal(total, 2);
    assert.equal(items[0].id.endsWith('bbbbbb'), true, 'newest first');
    assert.equal(items[0].interrupted, true);
    assert.equal(items[0].end, now - 3000);
    assert.equal(items[1].interrupted, undefined);
  });

  it('retention by age deletes old events and their files; retention by size deletes the oldest until within the limit', async () => {
    const dir = tempDir('edgesight-events-');
    let now = Date.now();
    const store = new EventStore({ dir, retentionMs: 60_000, maxBytes: 250_000, log: silentLogger(), now: () => now });
    store.open();
    const jpeg = Buffer.alloc(100_000, 1);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = record(`ev-${(now + i).toString(36)}-00000${i}`, now + i, now + i + 10);
      ids.push(r.id);
      await store.saveSnapshots(r, jpeg, undefined);
    }
    assert.equal(store.count, 2);
    // A third 100 KB event passes 250 KB: the oldest goes.
    const third = record(`ev-${(now + 2).toString(36)}-000002`, now + 2, now + 12);
    await store.saveSnapshots(third, jpeg, undefined);
    assert.deepEqual(store.list({ offset: 0, limit: 10 }).items.map((r) => r.id).sort(), [ids[1], third.id].sort());
    assert.ok(store.bytes <= 250_000, `bytes ${store.bytes}`);
    assert.equal(fs.existsSync(store.fileOf(ids[0], 'annotated')), false, 'its snapshot file went with it');
    // Two minutes on, all are older than the one-minute retention.
    now += 120_000;
    store.enforceRetention();
    store.close();
    assert.equal(store.count, 0);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('an open event is never deleted by retention', async () => {
    const dir = tempDir('edgesight-events-');
    let now = Date.now();
    const store = new EventStore({ dir, retentionMs: 1000, maxBytes: 1, log: silentLogger(), now: () => now });
    store.open();
    await store.save(record(`ev-${now.toString(36)}-abcdef`, now, null));
    now += 10_000;
    store.enforceRetention();
    store.close();
    assert.equal(store.count, 1);
  });
});
