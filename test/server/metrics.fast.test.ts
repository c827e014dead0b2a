import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/fixtures';
import { startStubServer, type StubServer } from '../helpers/stub-daemon';

const packageVersion = (JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/** A thermal zone as a Raspberry Pi's kernel shows it. */
function piThermalRoot(milliCelsius: string): string {
  const root = tempDir('edgesight-thermal-');
  fs.mkdirSync(path.join(root, 'thermal_zone0'));
  fs.writeFileSync(path.join(root, 'thermal_zone0', 'type'), 'cpu-thermal\n');
  fs.writeFileSync(path.join(root, 'thermal_zone0', 'temp'), `${milliCelsius}\n`);
  return root;
}

describe('GET /metrics (real server, stub daemon)', () => {
  let s: StubServer;
  afterEach(async () => s?.stop());
  const scrape = async () => {
    const res = await fetch(s.base + '/metrics', { headers: s.authHeaders });
    assert.equal(res.status, 200);
    return res.text();
  };
  const sample = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(series + ' '));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('says which edgesight and Node.js run, and the CPU temperature by sensor', async () => {
    s = await startStubServer({}, piThermalRoot('48312'));
    const text = await scrape();
    assert.equal(sample(text, `edgesight_build_info{version="${packageVersion}",node="${process.version}"}`), 1);
    assert.equal(sample(text, 'edgesight_cpu_temperature_celsius{sensor="cpu-thermal"}'), 48.3);
  });

  it('leaves the temperature out where the machine has no thermal zone, rather than report 0', async () => {
    s = await startStubServer();
    const text = await scrape();
    assert.match(text, /# TYPE edgesight_cpu_temperature_celsius gauge/);
    assert.doesNotMatch(text, /^edgesight_cpu_temperature_celsius/m);
  });

  it('counts source reconnects, model swaps and refusals, and refused sign-ins; exports no rate gauge', async () => {
    s = await startStubServer();
    s.daemon.setSource({ state: 'reconnecting', description: 'cam', attempt: 1, retryInMs: 1000, error: 'gone' });
    s.daemon.setSource({ state: 'reconnecting', description: 'cam', attempt: 2, retryInMs: 2000, error: 'gone' });
    s.daemon.setSource({ state: 'open', description: 'cam' });
    s.daemon.events.emit('model', s.daemon.model());
    s.daemon.events.emit('modelRejected', { origin: 'upload', error: 'bad' });
    s.daemon.events.emit('modelRejected', { origin: 'inbox', error: 'bad' });
    for (const guess of ['a', 'b', 'c']) assert.equal((await fetch(s.base + '/api/status', { headers: { Authorization: `Bearer ${guess}` } })).status, 401);
    const text = await scrape();
    assert.equal(sample(text, 'edgesight_source_reconnect_attempts_total'), 2);
    assert.equal(sample(text, 'edgesight_source_reconnects_total'), 1);
    assert.equal(sample(text, 'edgesight_model_swaps_total'), 1);
    assert.equal(sample(text, 'edgesight_model_refusals_total'), 2);
    assert.equal(sample(text, 'edgesight_signin_refusals_total{reason="wrong"}'), 3);
    assert.equal(sample(text, 'edgesight_signin_refusals_total{reason="blocked"}'), 0);
    assert.doesNotMatch(text, /^edgesight_fps/m, 'frames/s is rate(edgesight_frames_classified_total[1m])');
  });
});
