import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultModelDir, runCliAsync } from '../helpers/fixtures';

/** A daemon stand-in on 127.0.0.1 that reads the whole upload, then answers `status`. */
async function answering(status: number): Promise<{ base: string; close(): void; uploads: number }> {
  const state = { uploads: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.uploads++;
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(status === 200 ? { model: { name: 'm', version: 'v2', labels: ['a', 'b'] } } : { error: `refused with ${status}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    close: () => server.close(),
    get uploads() {
      return state.uploads;
    },
  };
}

describe('edgesight deploy exit codes', function () {
  this.timeout(60_000);

  for (const status of [400, 413, 415, 422]) {
    it(`a refusal (HTTP ${status}) exits 3 with the daemon's reason`, async () => {
      const daemon = await answering(status);
      try {
        const result = await runCliAsync(['deploy', defaultModelDir, '--to', daemon.base, '--token', 'a-token-of-some-length']);
        assert.equal(daemon.uploads, 1);
        assert.equal(result.code, 3, result.stderr);
        assert.match(result.stderr, new RegExp(`refused the model \\(HTTP ${status}\\): refused with ${status}`));
      } finally {
        daemon.close();
      }
    });
  }

  for (const status of [401, 500, 503]) {
    it(`HTTP ${status} (not a verdict on the model) exits 1`, async () => {
      const daemon = await answering(status);
      try {
        const result = await runCliAsync(['deploy', defaultModelDir, '--to', daemon.base, '--token', 'a-token-of-some-length']);
        assert.equal(result.code, 1, result.stderr);
      } finally {
        daemon.close();
      }
    });
  }

  it('a daemon that cannot be reached (connection refused) exits 1', async () => {
    const daemon = await answering(200);
    daemon.close(); // the port is free again: connecting to it is refused
    const result = await runCliAsync(['deploy', defaultModelDir, '--to', daemon.base, '--token', 'a-token-of-some-length']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cannot reach edgesight there: .*ECONNREFUSED/);
  });

  it('an accepted model exits 0', async () => {
    const daemon = await answering(200);
    try {
      const result = await runCliAsync(['deploy', defaultModelDir, '--to', daemon.base, '--token', 'a-token-of-some-length']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /now serving m v2 \(2 labels\)/);
    } finally {
      daemon.close();
    }
  });
});
