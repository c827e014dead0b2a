import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultConfigFile, loadConfig, toNestedJson } from '../../src/config/load';
import { configKeys, defaultConfig, envNameFor } from '../../src/config/schema';
import { ConfigError } from '../../src/util/errors';
import { projectRoot, runCli, tempDir } from '../helpers/fixtures';

describe('config loading', () => {
  it('config/default.json holds every schema key with the schema default', () => {
    const file = JSON.parse(fs.readFileSync(defaultConfigFile, 'utf8'));
    assert.deepEqual(file, toNestedJson(defaultConfig()));
  });

  it('docs/configuration.md documents every key', () => {
    const reference = fs.readFileSync(path.join(projectRoot, 'docs', 'configuration.md'), 'utf8');
    for (const key of configKeys) assert.ok(reference.includes(`\`${key}\``), `docs/configuration.md lacks ${key}`);
  });

  it('applies file, then environment, then flags', () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ decision: { threshold: 0.6, topK: 4 }, 'camera.width': 1280 }));
    const config = loadConfig({ configFile: file, env: { EDGESIGHT_DECISION_TOP_K: '5', EDGESIGHT_CAMERA_WIDTH: '800' }, flags: { 'camera.width': '1024' } });
    assert.equal(config['decision.threshold'], 0.6);
    assert.equal(config['decision.topK'], 5);
    assert.equal(config['camera.width'], 1024);
    assert.equal(config['log.level'], 'info');
  });

  it('maps keys to EDGESIGHT_SECTION_KEY names', () => {
    assert.equal(envNameFor('decision.topK'), 'EDGESIGHT_DECISION_TOP_K');
    assert.equal(envNameFor('camera.preferMjpeg'), 'EDGESIGHT_CAMERA_PREFER_MJPEG');
    assert.equal(envNameFor('source'), 'EDGESIGHT_SOURCE');
  });

  it('parses booleans and numbers from text', () => {
    const config = loadConfig({ env: { EDGESIGHT_FILE_LOOP: 'no', EDGESIGHT_DEMO_FPS: '7.5' } });
    assert.equal(config['file.loop'], false);
    assert.equal(config['demo.fps'], 7.5);
  });

  // Number() reads all of these; none is how anyone writes a port or a threshold on purpose.
  for (const text of ['0x1f95', '1e3', ' 8097 ', '0b11', '0o17', '+80', '8097.']) {
    it(`refuses the integer ${JSON.stringify(text)} from the environment and from a flag`, () => {
      const refused = (err: unknown) => err instanceof ConfigError && err.message.includes(`server.port = ${JSON.stringify(text)}`) && /an integer from 0 to 65535/.test(err.message);
      assert.throws(() => loadConfig({ env: { EDGESIGHT_SERVER_PORT: text } }), refused);
      assert.throws(() => loadConfig({ flags: { 'server.port': text } }), refused);
    });
  }
  for (const text of ['5e-1', '0x1', ' 0.5', '1.']) {
    it(`refuses the number ${JSON.stringify(text)} from text`, () => {
      assert.throws(() => loadConfig({ env: { EDGESIGHT_DECISION_THRESHOLD: text } }), (err: unknown) => err instanceof ConfigError && err.message.includes(`decision.threshold = ${JSON.stringify(text)}`));
    });
  }

  it('accepts IP literals and host names for server.host, and refuses what is neither', () => {
    for (const host of ['127.0.0.1', '::', '::1', '0.0.0.0', 'localhost', 'cam-1.example.org', 'pi.local.']) {
      assert.equal(loadConfig({ flags: { 'server.host': host } })['server.host'], host);
    }
    for (const host of ['999.1.1.1', '1.2.3', '', 'under_score', 'a..b', '-lead.example', 'http://x', '[::1]']) {
      assert.throws(() => loadConfig({ flags: { 'server.host': host } }), /server\.host = .*must be an IP address or a host name/, host);
    }
  });

  const bad: Array<[string, () => unknown, RegExp]> = [
    ['a value out of range from the environment', () => loadConfig({ env: { EDGESIGHT_DECISION_THRESHOLD: '1.5' } }), /decision\.threshold = "1\.5" \(from environment EDGESIGHT_DECISION_THRESHOLD\).*a number from 0 to 1/],
    ['a non-integer', () => loadConfig({ flags: { 'decision.topK': '2.5' } }), /decision\.topK = "2\.5" \(from command line\).*an integer from 1 to 100/],
    ['a wrong enum value', () => loadConfig({ flags: { 'model.backend': 'gpu' } }), /model\.backend = "gpu".*one of auto, tfjs-node, wasm, cpu/],
    ['a wrong type in a file', () => {
      const file = path.join(tempDir(), 'c.json');
      fs.writeFileSync(file, JSON.stringify({ camera: { width: '640' } }));
      return loadConfig({ configFile: file });
    }, /camera\.width = "640" \(from .*c\.json\).*an integer/],
    ['an unknown key, with a suggestion', () => {
      const file = path.join(tempDir(), 'c.json');
      fs.writeFileSync(file, JSON.stringify({ decision: { treshold: 0.5 } }));
      return loadConfig({ configFile: file });
    }, /unknown key 'decision\.treshold'.*did you mean 'decision\.threshold'/],
    ['a file that is not JSON', () => {
      const file = path.join(tempDir(), 'c.json');
      fs.writeFileSync(file, '{ nope');
      return loadConfig({ configFile: file });
    }, /c\.json is not valid JSON/],
    ['a missing --config file', () => loadConfig({ configFile: '/nonexistent/edgesight.json' }), /\/nonexistent\/edgesight\.json.*does not exist/],
  ];
  for (const [what, load, message] of bad) {
    it(`refuses ${what} with a ConfigError naming it`, () => {
      assert.throws(load, (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  it('the CLI exits 2 with one line and no stack trace on a bad value', () => {
    const result = runCli(['run', '--set', 'decision.threshold=2']);
    assert.equal(result.code, 2);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /^edgesight: config: decision\.threshold = "2" \(from command line\) is not allowed: must be a number from 0 to 1$/);
  });

  it('the CLI exits 2 on a bad environment value before touching the camera', () => {
    const result = runCli(['run'], { EDGESIGHT_CAMERA_FPS: 'fast' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /camera\.fps = "fast" \(from environment EDGESIGHT_CAMERA_FPS\)/);
    assert.doesNotMatch(result.stderr, /\bat .*\.js:\d+/);
  });
});
