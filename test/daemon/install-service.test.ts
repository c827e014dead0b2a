import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, StateDirBusyError, UsageError } from '../../src/util/errors';
import { projectRoot, tempDir } from '../helpers/fixtures';

const script = path.join(projectRoot, 'scripts', 'install-service.sh');

function install(args: string[]) {
  const result = spawnSync(script, args, { encoding: 'utf8', timeout: 300_000 });
  assert.equal(result.status, 0, result.stderr + result.stdout);
  return result.stdout;
}

describe('systemd unit and install-service.sh', function () {
  this.timeout(300_000);

  it('the unit passes systemd-analyze verify and rates OK on security', () => {
    const unit = path.join(tempDir(), 'edgesight.service');
    // verify checks that ExecStart exists: point the unit at this checkout.
    fs.writeFileSync(unit, fs.readFileSync(path.join(projectRoot, 'systemd', 'edgesight.service'), 'utf8').replaceAll('/opt/edgesight', projectRoot));
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', verify.stderr);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8' });
    const score = Number(/Overall exposure level for edgesight\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
    // The bound is the number docs/service.md promises, so the two cannot drift apart.
    const promised = Number(/rates the unit \*\*([\d.]+) OK\*\*/.exec(fs.readFileSync(path.join(projectRoot, 'docs', 'service.md'), 'utf8'))?.[1]);
    assert.ok(promised > 0, 'docs/service.md no longer states the unit\'s exposure rating');
    assert.ok(score <= promised, `exposure ${score}, docs/service.md promises ${promised}:\n${security.stdout.slice(-400)}`);
    const text = fs.readFileSync(unit, 'utf8');
    for (const line of ['Type=notify', 'WatchdogSec=', 'DeviceAllow=char-video4linux rw', 'ProtectSystem=strict', 'StateDirectory=edgesight', 'CapabilityBoundingSet=\n', 'NoNewPrivileges=true', 'MemoryMax=', 'TimeoutStopSec=']) {
      assert.ok(text.includes(line), `unit lacks ${line.trim()}`);
    }
  });

  it('does not restart a daemon that exits for a configuration error or a busy state directory', () => {
    const text = fs.readFileSync(path.join(projectRoot, 'systemd', 'edgesight.service'), 'utf8');
    const lines = [...text.matchAll(/^RestartPreventExitStatus=(.*)$/gm)];
    assert.equal(lines.length, 1, 'one RestartPreventExitStatus= line');
    const codes = new Set(lines[0][1].trim().split(/\s+/).map(Number));
    const expected = new Set([new ConfigError('x').exitCode, new UsageError('x').exitCode, new StateDirBusyError('/x', 1).exitCode]);
    assert.deepEqual([...codes].sort(), [...expected].sort());
    // Every other failure (a camera gone, a crash, the watchdog) is still restarted.
    assert.match(text, /^Restart=always$/m);
  });

  it('installs into a staging root, again idempotently, and uninstalls keeping settings unless purged', () => {
    const root = path.join(tempDir(), 'root');
    install(['--root', root, '--skip-setup', '--prefix', '/srv/edgesight']);
    const app = path.join(root, 'srv', 'edgesight');
    const unit = fs.readFileSync(path.join(root, 'etc', 'systemd', 'system', 'edgesight.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/srv\/edgesight\/bin\/edgesight run --config \/etc\/edgesight\/config\.json$/m);
    assert.ok(!unit.includes('/opt/edgesight'));
    assert.ok(fs.existsSync(path.join(app, 'dist', 'src', 'cli', 'main.js')));
    assert.ok(fs.existsSync(path.join(app, 'models', 'default', 'model.json')));
    assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'mocha')), 'development packages were installed');
    assert.ok(!fs.existsSync(path.join(app, 'test')), 'tests were installed');
    const config = path.join(root, 'etc', 'edgesight', 'config.json');
    assert.equal(fs.statSync(config).mode & 0o777, 0o640);
    // The installed CLI works and reads the installed config.
    const check = spawnSync(process.execPath, [path.join(app, 'bin', 'edgesight'), 'config', '--config', config], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /"port": 8080/);

    fs.writeFileSync(config, '{"source": "demo"}');
    install(['--root', root, '--skip-setup', '--prefix', '/srv/edgesight']);
    assert.equal(fs.readFileSync(config, 'utf8'), '{"source": "demo"}', 'a second install overwrote the settings');
    assert.ok(!fs.existsSync(app + '.new') && !fs.existsSync(app + '.old'));

    install(['--root', root, '--prefix', '/srv/edgesight', '--uninstall']);
    assert.ok(!fs.existsSync(app));
    assert.ok(!fs.existsSync(path.join(root, 'etc', 'systemd', 'system', 'edgesight.service')));
    assert.ok(fs.existsSync(config), 'settings removed without --purge');
    install(['--root', root, '--prefix', '/srv/edgesight', '--uninstall', '--purge']);
    assert.ok(!fs.existsSync(path.join(root, 'etc', 'edgesight')));
  });
});
