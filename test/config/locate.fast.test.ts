import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configSearchPath, locateConfigFile, presetsFor, SYSTEM_CONFIG_FILE, userConfigFile } from '../../src/config/locate';
import { ConfigError } from '../../src/util/errors';
import { tempDir } from '../helpers/fixtures';

describe('config file search', () => {
  let dir: string;
  let system: string;
  let user: string;
  let named: string;
  let flag: string;

  beforeEach(() => {
    dir = tempDir('edgesight-locate-');
    // Stand-ins for /etc/edgesight/config.json and ~/.config/edgesight/config.json.
    system = path.join(dir, 'etc', 'config.json');
    user = path.join(dir, 'home', 'config.json');
    named = path.join(dir, 'named.json');
    flag = path.join(dir, 'flag.json');
    for (const f of [system, user, named, flag]) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, '{}');
    }
  });

  it('takes --config, then $EDGESIGHT_CONFIG, then the first file of the search that exists', () => {
    const search = [system, user];
    assert.deepEqual(locateConfigFile(flag, { EDGESIGHT_CONFIG: named }, search), { file: flag, origin: '--config', searched: [] });
    assert.deepEqual(locateConfigFile(undefined, { EDGESIGHT_CONFIG: named }, search), { file: named, origin: '$EDGESIGHT_CONFIG', searched: [] });
    assert.deepEqual(locateConfigFile(undefined, {}, search), { file: system, origin: 'search', searched: search });
    fs.rmSync(system);
    assert.equal(locateConfigFile(undefined, {}, search).file, user);
    fs.rmSync(user);
    assert.deepEqual(locateConfigFile(undefined, {}, search), { origin: 'search', searched: search });
  });

  it('searches the service configuration before the user one, and EDGESIGHT_CONFIG_SEARCH replaces the list', () => {
    assert.deepEqual(configSearchPath({ HOME: '/home/pi' }), [SYSTEM_CONFIG_FILE, '/home/pi/.config/edgesight/config.json']);
    assert.deepEqual(configSearchPath({ HOME: '/home/pi', XDG_CONFIG_HOME: '/cfg' }), [SYSTEM_CONFIG_FILE, '/cfg/edgesight/config.json']);
    assert.equal(userConfigFile({ XDG_CONFIG_HOME: '/cfg' }), '/cfg/edgesight/config.json');
    assert.deepEqual(configSearchPath({ EDGESIGHT_CONFIG_SEARCH: `${user}:${system}` }), [user, system]);
    assert.deepEqual(configSearchPath({ EDGESIGHT_CONFIG_SEARCH: '' }), []);
    // The variable drives locateConfigFile when no list is passed.
    assert.equal(locateConfigFile(undefined, { EDGESIGHT_CONFIG_SEARCH: `${user}:${system}` }).file, user);
  });

  it('refuses a search entry that is not a file rather than skipping it', () => {
    fs.rmSync(system);
    fs.mkdirSync(system);
    assert.throws(() => locateConfigFile(undefined, {}, [system, user]), (err: unknown) => err instanceof ConfigError && err.message === `config: ${system} is not a file`);
  });

  it('passes over a search entry it may not look at (a 0750 /etc/edgesight), saying so', function () {
    if (process.getuid?.() === 0) this.skip(); // root may look everywhere
    fs.chmodSync(path.dirname(system), 0o000);
    try {
      const choice = locateConfigFile(undefined, {}, [system, user]);
      assert.equal(choice.file, user);
      assert.match(choice.unreadable?.[0] ?? '', /passed over: EACCES.*run as root or as a member of its group/);
    } finally {
      fs.chmodSync(path.dirname(system), 0o755);
    }
  });

  it("the service's configuration brings the service's state directory, unless systemd passes one", () => {
    const service = { configFile: system, stateDir: '/var/lib/x' };
    assert.deepEqual(presetsFor(system, {}, service), { 'state.dir': '/var/lib/x' });
    assert.deepEqual(presetsFor(system, { STATE_DIRECTORY: '/run/x' }, service), {});
    assert.deepEqual(presetsFor(user, {}, service), {});
    assert.deepEqual(presetsFor(undefined, {}, service), {});
  });
});
