import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemoryLimit, readUnitMemoryLimit } from '../../src/util/memory-limit';
import { tempDir } from '../helpers/fixtures';

/** A fake /sys/fs/cgroup and /proc/self/cgroup: `files` maps paths under the root to contents. */
function fakeCgroups(procSelfCgroup: string, files: Record<string, string>): { root: string; procSelfCgroup: string } {
  const dir = tempDir('edgesight-cgroup-');
  const root = path.join(dir, 'sys-fs-cgroup');
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text + '\n');
  }
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(dir, 'cgroup'), procSelfCgroup);
  return { root, procSelfCgroup: path.join(dir, 'cgroup') };
}

describe('readMemoryLimit (cgroup v1 and v2 from files)', () => {
  it('reads cgroup v2 memory.max of the service (systemd MemoryMax=768M on a Pi)', () => {
    const where = fakeCgroups('0::/system.slice/edgesight.service\n', {
      'cgroup.controllers': 'cpuset cpu io memory pids',
      'system.slice/memory.max': 'max',
      'system.slice/edgesight.service/memory.max': String(768 * 1048576),
    });
    assert.deepEqual(readMemoryLimit(where), { bytes: 805306368, file: path.join(where.root, 'system.slice/edgesight.service/memory.max'), version: 'cgroup v2' });
  });

  it('takes the smallest limit up the tree: a parent slice binds its children', () => {
    const where = fakeCgroups('0::/user.slice/user-1000.slice/session-2.scope\n', {
      'user.slice/memory.max': String(512 * 1048576),
      'user.slice/user-1000.slice/memory.max': 'max',
      'user.slice/user-1000.slice/session-2.scope/memory.max': String(2048 * 1048576),
    });
    const limit = readMemoryLimit(where);
    assert.equal(limit?.bytes, 512 * 1048576);
    assert.equal(limit?.file, path.join(where.root, 'user.slice/memory.max'));
  });

  it('says there is none for "max" all the way up', () => {
    const where = fakeCgroups('0::/system.slice/edgesight.service\n', { 'system.slice/memory.max': 'max', 'system.slice/edgesight.service/memory.max': 'max' });
    assert.equal(readMemoryLimit(where), undefined);
  });

  it('reads cgroup v1 memory.limit_in_bytes on a hybrid system (v2 mounted beside, without memory)', () => {
    const where = fakeCgroups('9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu,cpuacct:/\n0::/\n', {
      'memory/memory.limit_in_bytes': '9223372036854771712',
      'memory/process_api/memory.limit_in_bytes': '9223372036854771712',
      'memory/process_api/abc/memory.limit_in_bytes': '536870912',
      'unified/cgroup.procs': '',
    });
    assert.deepEqual(readMemoryLimit(where), { bytes: 536870912, file: path.join(where.root, 'memory/process_api/abc/memory.limit_in_bytes'), version: 'cgroup v1' });
  });

  it("says there is none for v1's unlimited value (9223372036854771712)", () => {
    const where = fakeCgroups('4:memory:/\n0::/\n', { 'memory/memory.limit_in_bytes': '9223372036854771712' });
    assert.equal(readMemoryLimit(where), undefined);
  });

  it('reads the mount top when the cgroup path is not visible there (a container with its own cgroup mount)', () => {
    const where = fakeCgroups('0::/docker/0123abcd\n', { 'memory.max': String(300 * 1048576) });
    assert.equal(readMemoryLimit(where)?.bytes, 300 * 1048576);
  });

  it('answers undefined where there is no /proc/self/cgroup (not Linux)', () => {
    assert.equal(readMemoryLimit({ procSelfCgroup: path.join(tempDir(), 'absent'), root: tempDir() }), undefined);
  });

  it("reads this machine's own limit without throwing", () => {
    const limit = readMemoryLimit();
    if (limit) assert.ok(limit.bytes > 0 && fs.existsSync(limit.file), JSON.stringify(limit));
  });
});

describe('readUnitMemoryLimit (the service\'s limit, read by doctor from a shell)', () => {
  it("reads the running unit's cgroup v2 memory.max, not the caller's", () => {
    // The caller's own session is limited tighter: a reader of the caller's cgroup would answer 256 MB.
    const where = fakeCgroups('0::/user.slice/user-1000.slice/session-2.scope\n', {
      'user.slice/memory.max': String(256 * 1048576),
      'system.slice/memory.max': 'max',
      'system.slice/edgesight.service/memory.max': String(1024 * 1048576),
    });
    assert.deepEqual(readUnitMemoryLimit('edgesight.service', where), { bytes: 1073741824, file: path.join(where.root, 'system.slice/edgesight.service/memory.max'), version: 'cgroup v2' });
  });

  it('reads cgroup v1 memory.limit_in_bytes of the unit', () => {
    const where = fakeCgroups('4:memory:/\n0::/\n', { 'memory/system.slice/edgesight.service/memory.limit_in_bytes': String(640 * 1048576), 'memory/memory.limit_in_bytes': '9223372036854771712' });
    assert.equal(readUnitMemoryLimit('edgesight.service', where)?.bytes, 640 * 1048576);
  });

  it('says there is none when the unit is not running (no cgroup of its own), even under a limited parent', () => {
    const where = fakeCgroups('0::/\n', { 'system.slice/memory.max': String(512 * 1048576) });
    assert.equal(readUnitMemoryLimit('edgesight.service', where), undefined);
  });
});
