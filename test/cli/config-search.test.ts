import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { runCli, runCliAsync, tempDir } from '../helpers/fixtures';

/**
 * The commands that act on the installed service find its configuration without --config, and
 * say which file they used. EDGESIGHT_CONFIG_SEARCH stands in for the real search list
 * (/etc/edgesight/config.json, ~/.config/edgesight/config.json), so this machine's /etc is never read.
 */
describe('CLI commands find the configuration and say which', function () {
  this.timeout(60_000);
  let dir: string;
  let missing: string;
  let service: string;
  let serviceState: string;
  let other: string;
  let otherState: string;

  before(() => {
    dir = tempDir('edgesight-search-');
    missing = path.join(dir, 'nowhere', 'config.json');
    serviceState = path.join(dir, 'service-state');
    otherState = path.join(dir, 'other-state');
    service = path.join(dir, 'service.json');
    other = path.join(dir, 'other.json');
    fs.writeFileSync(service, JSON.stringify({ state: { dir: serviceState }, server: { port: 8111 } }));
    fs.writeFileSync(other, JSON.stringify({ state: { dir: otherState }, server: { port: 8222 } }));
  });

  it('token: the first file of the search that exists, and its state directory', () => {
    const result = runCli(['token'], { EDGESIGHT_CONFIG_SEARCH: `${missing}:${service}:${other}` });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), fs.readFileSync(path.join(serviceState, 'token'), 'utf8').trim());
    assert.match(result.stderr, new RegExp(`^edgesight: configuration: ${service}$`, 'm'));
    assert.ok(!fs.existsSync(otherState));
  });

  it('config: $EDGESIGHT_CONFIG before the search, --config before both', () => {
    const byVariable = runCli(['config'], { EDGESIGHT_CONFIG_SEARCH: service, EDGESIGHT_CONFIG: other });
    assert.equal(byVariable.code, 0, byVariable.stderr);
    assert.equal((JSON.parse(byVariable.stdout) as { server: { port: number } }).server.port, 8222);
    assert.match(byVariable.stderr, new RegExp(`^edgesight: configuration: ${other} \\(from \\$EDGESIGHT_CONFIG\\)$`, 'm'));
    const byFlag = runCli(['config', '--config', service], { EDGESIGHT_CONFIG_SEARCH: other, EDGESIGHT_CONFIG: other });
    assert.equal((JSON.parse(byFlag.stdout) as { server: { port: number } }).server.port, 8111);
    assert.match(byFlag.stderr, new RegExp(`^edgesight: configuration: ${service} \\(from --config\\)$`, 'm'));
  });

  it('config: no file found is said too, with where it looked', () => {
    const result = runCli(['config'], { EDGESIGHT_CONFIG_SEARCH: missing });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, `edgesight: configuration: no file (looked for ${missing}): defaults and EDGESIGHT_* variables\n`);
  });

  it('a missing $EDGESIGHT_CONFIG file is an error naming the variable', () => {
    const result = runCli(['config'], { EDGESIGHT_CONFIG: missing });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `edgesight: config: file ${missing} (from $EDGESIGHT_CONFIG) does not exist\n`);
  });

  it("rollback: the daemon's port and token come from the configuration found", async () => {
    const seen: Array<{ url?: string; authorization?: string }> = [];
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ model: { name: 'm', version: 'v1' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const state = path.join(dir, 'rollback-state');
      fs.mkdirSync(state, { mode: 0o700 });
      fs.writeFileSync(path.join(state, 'token'), 'token-from-the-state-dir\n', { mode: 0o600 });
      const file = path.join(dir, 'rollback.json');
      fs.writeFileSync(file, JSON.stringify({ state: { dir: state }, server: { port } }));
      const result = await runCliAsync(['rollback'], { EDGESIGHT_CONFIG_SEARCH: `${missing}:${file}` });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(seen, [{ url: '/api/model/rollback', authorization: 'Bearer token-from-the-state-dir' }]);
      assert.match(result.stderr, new RegExp(`^edgesight: configuration: ${file}$`, 'm'));
    } finally {
      server.close();
    }
  });
});
