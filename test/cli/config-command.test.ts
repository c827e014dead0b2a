import { strict as assert } from 'node:assert';
import { runCli } from '../helpers/fixtures';

describe('edgesight config', function () {
  this.timeout(60_000);

  it('redacts passwords in source, url.address and every other address, and the secret fields', () => {
    const result = runCli(
      ['config', '--source', 'rtsp://admin:hunter2@10.0.0.9/live', '-s', 'url.address=rtsp://viewer:s3cret-cam@cam.local:554/h264', '-s', 'mqtt.url=mqtts://ha:broker-pass@broker:8883', '-s', 'webhooks.urls=https://a:hook-pass@hooks.example/x,https://hooks.example/y?token=hook-token'],
      { EDGESIGHT_MQTT_PASSWORD: 'mqtt-secret-value', EDGESIGHT_WEBHOOKS_SECRET: 'hmac-secret-value' },
    );
    assert.equal(result.code, 0, result.stderr);
    for (const secret of ['hunter2', 's3cret-cam', 'broker-pass', 'hook-pass', 'hook-token', 'mqtt-secret-value', 'hmac-secret-value']) {
      assert.ok(!result.stdout.includes(secret), `config printed ${secret}`);
    }
    const config = JSON.parse(result.stdout) as { source: string; url: { address: string }; mqtt: { url: string; password: string }; webhooks: { urls: string; secret: string } };
    assert.equal(config.source, 'rtsp://admin:***@10.0.0.9/live');
    assert.equal(config.url.address, 'rtsp://viewer:***@cam.local:554/h264');
    assert.equal(config.mqtt.url, 'mqtts://ha:***@broker:8883');
    assert.equal(config.webhooks.urls, 'https://a:***@hooks.example/x,https://hooks.example/y?token=***');
    assert.equal(config.mqtt.password, '[redacted]');
    assert.equal(config.webhooks.secret, '[redacted]');
  });

  it('edgesight config prints the warning on stderr and carries on', () => {
    const result = runCli(['config'], { EDGESIGHT_SERVR_PORT: '9000', EDGESIGHT_TOKEN: 'not-a-typo' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { server: { port: number } }).server.port, 8080);
    const warnings = result.stderr.split('\n').filter((l) => l.startsWith('edgesight: warning:'));
    assert.deepEqual(warnings, ['edgesight: warning: environment variable EDGESIGHT_SERVR_PORT is not one edgesight reads, so it is ignored (did you mean EDGESIGHT_SERVER_PORT (server.port)?)']);
  });
});
