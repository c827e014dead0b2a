import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from '../helpers/fixtures';

const COMMANDS = ['run', 'predict', 'train', 'evaluate', 'info', 'import', 'doctor', 'deploy', 'capture', 'dataset', 'rollback', 'token', 'bench', 'config'];

describe('help where people look', function () {
  this.timeout(120_000);

  for (const command of COMMANDS) {
    it(`${command} --help prints its usage and every option, described, to stdout with exit 0`, () => {
      const result = runCli([command, '--help']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      const [first, , summary, , heading, ...rows] = result.stdout.trimEnd().split('\n');
      assert.match(first, new RegExp(`^usage: edgesight ${command} `));
      assert.ok(summary.length > 20, summary);
      assert.equal(heading, 'options:');
      assert.ok(rows.length >= 2, result.stdout);
      for (const row of rows) assert.match(row, /^ {2}(-[a-z], | {4})--[a-z-]+( \S+)? +\S.{5,}$/, `an option without words in ${command} --help:\n${row}`);
      assert.ok(rows.some((r) => r.startsWith('  -h, --help ')));
    });
  }

  it('-h is --help, and `edgesight help deploy` is `edgesight deploy --help`', () => {
    const long = runCli(['deploy', '--help']).stdout;
    assert.equal(runCli(['deploy', '-h']).stdout, long);
    assert.equal(runCli(['help', 'deploy']).stdout, long);
    assert.match(long, /^ {2}-t, --to URL +the daemon's address/m);
  });

  it('help wins over a command line that is otherwise wrong', () => {
    const result = runCli(['predict', '--jsn', '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^usage: edgesight predict PATH\.\.\./);
  });

  it('bare edgesight prints the usage to stderr and exits 2; edgesight help to stdout with 0', () => {
    const bare = runCli([]);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /^usage: edgesight <command> \[options\]\n/);
    assert.match(bare.stderr, /^ {2}deploy +send a model package/m);
    const help = runCli(['help']);
    assert.equal(help.code, 0);
    assert.equal(help.stdout, bare.stderr);
    assert.equal(runCli(['--help']).stdout, bare.stderr);
  });

  it('short flags: -c FILE, -s key=value and -p N are --config, --set and --port', () => {
    const file = path.join(tempDir(), 'config.json');
    fs.writeFileSync(file, JSON.stringify({ decision: { threshold: 0.25 } }));
    const result = runCli(['config', '-c', file, '-s', 'decision.topK=7', '-p', '9123']);
    assert.equal(result.code, 0, result.stderr);
    const config = JSON.parse(result.stdout) as { decision: { threshold: number; topK: number }; server: { port: number } };
    assert.deepEqual([config.decision.threshold, config.decision.topK, config.server.port], [0.25, 7, 9123]);
  });

  it('an unknown option points at the command help', () => {
    const result = runCli(['token', '--rotat']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^edgesight: token: Unknown option '--rotat'.*\(see 'edgesight token --help'\)$/m);
  });
});
