import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliPath, tempDir } from '../helpers/fixtures';

const loggerModule = path.join(__dirname, '..', '..', 'src', 'util', 'logger.js');

/**
 * Runs a process that logs one line per level with createLogger, its stderr a file. `journal`:
 * JOURNAL_STREAM names that file's device:inode, as systemd does for the stream it hands a
 * service; 'elsewhere': the variable is inherited but names another stream.
 */
async function logEveryLevel(format: string, journal: 'yes' | 'elsewhere' | 'no'): Promise<string[]> {
  const dir = tempDir('edgesight-log-');
  const script = path.join(dir, 'log.js');
  fs.writeFileSync(
    script,
    `const log = require(${JSON.stringify(loggerModule)}).createLogger('trace', ${JSON.stringify(format)});
     log.fatal('f-line'); log.error({ component: 'capture' }, 'e-line'); log.warn('w-line'); log.info({ n: 1 }, 'i-line'); log.debug('d-line'); log.trace('t-line');`,
  );
  const stderrFile = path.join(dir, 'stderr');
  const fd = fs.openSync(stderrFile, 'w');
  const st = fs.fstatSync(fd, { bigint: true });
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  if (journal === 'yes') env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
  if (journal === 'elsewhere') env.JOURNAL_STREAM = `${st.dev}:${st.ino + 1n}`;
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', fd], env });
  fs.closeSync(fd);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, fs.readFileSync(stderrFile, 'utf8'));
  return fs.readFileSync(stderrFile, 'utf8').trimEnd().split('\n');
}

describe('logger under journald', () => {
  it('prefixes each readable line with its syslog priority and leaves the clock to journald', async () => {
    const lines = await logEveryLevel('auto', 'yes');
    assert.deepEqual(
      lines.map((l) => l.slice(0, 3)),
      ['<2>', '<3>', '<4>', '<6>', '<7>', '<7>'],
      lines.join('\n'),
    );
    assert.equal(lines[1], '<3>ERROR [capture] e-line');
    assert.equal(lines[3], '<6>info  i-line  n=1');
    for (const line of lines) assert.doesNotMatch(line, /^<\d>\{|\d\d:\d\d:\d\d/, 'JSON or a clock under journald');
  });

  it('writes JSON with the priority in front when log.format is json', async () => {
    const lines = await logEveryLevel('json', 'yes');
    const priorities = lines.map((l) => Number(/^<(\d)>/.exec(l)?.[1]));
    assert.deepEqual(priorities, [2, 3, 4, 6, 7, 7], lines.join('\n'));
    const entries = lines.map((l) => JSON.parse(l.slice(3)) as { level: number; msg: string });
    assert.deepEqual(entries.map((e) => e.msg), ['f-line', 'e-line', 'w-line', 'i-line', 'd-line', 't-line']);
  });

  it('adds no prefix when JOURNAL_STREAM names another stream than stderr (an inherited variable)', async () => {
    const lines = await logEveryLevel('auto', 'elsewhere');
    assert.equal(lines.length, 6);
    for (const line of lines) assert.equal((JSON.parse(line) as { msg: string }).msg.length, 6, line);
  });

  it("the CLI's one-line errors carry priority err, so `journalctl -p err` shows why a start failed", async () => {
    const dir = tempDir('edgesight-log-');
    const stderrFile = path.join(dir, 'stderr');
    const fd = fs.openSync(stderrFile, 'w');
    const st = fs.fstatSync(fd, { bigint: true });
    const child = spawn(process.execPath, [cliPath, 'config', '--set', 'server.port=http'], { stdio: ['ignore', 'ignore', fd], env: { PATH: process.env.PATH ?? '', HOME: dir, JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
    fs.closeSync(fd);
    assert.equal(await new Promise((resolve) => child.on('close', resolve)), 2);
    assert.match(fs.readFileSync(stderrFile, 'utf8'), /^<3>edgesight: config: server\.port = "http" \(from command line\)/m);
  });

  it('adds no prefix outside journald', async () => {
    const lines = await logEveryLevel('pretty', 'no');
    assert.match(lines[2], /^\d\d:\d\d:\d\d WARN  w-line$/);
  });
});
