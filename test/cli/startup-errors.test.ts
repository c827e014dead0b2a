import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from '../helpers/fixtures';

/** stderr must be exactly one `edgesight: ...` line, and the exit code 2. */
function assertOneLine(result: { code: number | null; stderr: string }, line: RegExp): void {
  const lines = result.stderr.replace(/\n$/, '').split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0], line);
  assert.equal(result.code, 2, result.stderr);
}

describe('edgesight run: start-up mistakes are one line and exit 2', function () {
  this.timeout(60_000);

  it('a state.dir under /proc is refused promptly, naming state.dir', () => {
    const started = Date.now();
    // Before the fix this spun at 100% CPU forever; spawnSync kills it after 20 s (code null).
    const result = runCli(['run', '--host', '127.0.0.1', '--port', '0', '--set', 'state.dir=/proc/edgesight-x'], {}, 20_000);
    assertOneLine(result, /^edgesight: state\.dir: cannot create \/proc\/edgesight-x: ENOENT/);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  it('a state.dir that exists but cannot be written is refused, naming state.dir', () => {
    const result = runCli(['run', '--host', '127.0.0.1', '--port', '0', '--set', 'state.dir=/proc'], {}, 20_000);
    assertOneLine(result, /^edgesight: state\.dir: \/proc is not a writable directory: /);
  });

  it('--host 999.1.1.1 is refused as not an address, naming server.host and the value', () => {
    const result = runCli(['run', '--host', '999.1.1.1', '--port', '0', '--set', `state.dir=${tempDir('edgesight-state-')}`]);
    assertOneLine(result, /^edgesight: config: server\.host = "999\.1\.1\.1" \(from command line\) is not allowed: must be an IP address or a host name$/);
  });

  it('a config file nested 5,000 levels deep is refused, naming the file', () => {
    const file = path.join(tempDir(), 'deep.json');
    fs.writeFileSync(file, '{"a":'.repeat(5000) + '1' + '}'.repeat(5000));
    const result = runCli(['run', '--config', file]);
    assertOneLine(result, new RegExp(`^edgesight: config: unknown key 'a\\.a' in ${file.replace(/[.]/g, '\\.')}$`));
  });

  it('a value nested 5,000 levels deep under a real key is refused, naming key and file', () => {
    const file = path.join(tempDir(), 'deep.json');
    fs.writeFileSync(file, '{"server":{"port":' + '['.repeat(5000) + ']'.repeat(5000) + '}}');
    const result = runCli(['run', '--config', file]);
    assertOneLine(result, /^edgesight: config: server\.port = an array \(from .*deep\.json\) is not allowed: must be an integer from 0 to 65535$/);
  });

  for (const port of ['0x1f95', '1e3', ' 8097 ']) {
    it(`--port ${JSON.stringify(port)} is refused: ports are decimal integers`, () => {
      const result = runCli(['run', '--port', port, '--set', `state.dir=${tempDir('edgesight-state-')}`]);
      assertOneLine(result, new RegExp(`^edgesight: config: server\\.port = "${port.replace('.', '\\.')}" \\(from command line\\) is not allowed: must be an integer from 0 to 65535$`));
    });
  }
});
