import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StateLock } from '../../src/daemon/state-lock';
import { StateDirBusyError } from '../../src/util/errors';
import type { Logger } from '../../src/util/logger';
import { tempDir } from '../helpers/fixtures';

describe('StateLock', () => {
  const warnings: string[] = [];
  const log = { warn: (_obj: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
  let sleeper: ChildProcess;
  before(() => {
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  });
  after(() => {
    sleeper.kill();
  });
  beforeEach(() => (warnings.length = 0));

  const writeLock = (holder: Record<string, unknown>) => {
    const dir = tempDir('edgesight-lock-');
    fs.writeFileSync(path.join(dir, 'daemon.lock'), JSON.stringify(holder));
    return dir;
  };
  const startTimeOf = (pid: number) => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  };

  it('refuses a lock held by a live process, naming the directory and its pid', () => {
    const dir = writeLock({ pid: sleeper.pid, startTime: startTimeOf(sleeper.pid!) });
    assert.throws(() => StateLock.acquire(dir, log), (err: unknown) => err instanceof StateDirBusyError && err.exitCode === 5 && err.message.includes(`${dir} is in use by another edgesight (pid ${sleeper.pid})`));
  });

  it('takes over a lock whose pid now belongs to another process (start time differs)', () => {
    const dir = writeLock({ pid: sleeper.pid, startTime: '1' });
    StateLock.acquire(dir, log).release();
    assert.match(warnings.join('\n'), new RegExp(`took over .* from pid ${sleeper.pid}, which is no longer running`));
  });

  it('takes over a lock written before a reboot (another boot id)', () => {
    const dir = writeLock({ pid: sleeper.pid, bootId: 'not-this-boot' });
    StateLock.acquire(dir, log).release();
    assert.equal(warnings.length, 1);
  });

  it('takes over a lock naming our own pid that this process does not hold (pid reuse)', () => {
    const dir = writeLock({ pid: process.pid });
    const lock = StateLock.acquire(dir, log);
    assert.equal(warnings.length, 1);
    // ... but refuses a second holder inside this process.
    assert.throws(() => StateLock.acquire(dir, log), StateDirBusyError);
    lock.release();
    assert.ok(!fs.existsSync(path.join(dir, 'daemon.lock')));
  });
});
