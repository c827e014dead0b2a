import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { waitUntil } from '../helpers/daemon';
import { cliPath, tempDir, writePaperDigitClip } from '../helpers/fixtures';

/** A real Unix datagram socket, as systemd's NOTIFY_SOCKET is, read by Python (Node has no AF_UNIX datagrams). */
function notifySocket(file: string): { child: ChildProcess; messages: Array<{ at: number; text: string }>; ready: Promise<void> } {
  const listener = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps({"at": time.time() * 1000, "text": data.decode()}), flush=True)
`;
  const child = spawn('/usr/bin/python3', ['-c', listener, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: Array<{ at: number; text: string }> = [];
  let buffer = '';
  let bound: () => void;
  const ready = new Promise<void>((resolve) => (bound = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line === 'bound') bound();
      else messages.push(JSON.parse(line));
    }
  });
  return { child, messages, ready };
}

describe('systemd notify and watchdog (real datagram socket)', function () {
  this.timeout(120_000);

  it('sends READY=1 once the port serves, WATCHDOG=1 only while frames flow, STOPPING=1 on SIGTERM', async () => {
    const dir = tempDir();
    const clip = path.join(dir, 'short.avi');
    // 2 s of video, played once: frames flow, then stop.
    writePaperDigitClip(clip, { digits: 2, framesPerDigit: 30, fps: 30 });
    const socketFile = path.join(dir, 'notify.sock');
    const sd = notifySocket(socketFile);
    await sd.ready;
    const daemon = spawn(process.execPath, [cliPath, 'run', '--source', clip, '--set', 'file.loop=false', '--host', '127.0.0.1', '--port', '0', '--set', `state.dir=${dir}`, '--set', 'log.format=json'], {
      // WatchdogSec=2: edgesight pings every second while healthy.
      env: { PATH: process.env.PATH ?? '', HOME: dir, NOTIFY_SOCKET: socketFile, WATCHDOG_USEC: '2000000' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    daemon.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    try {
      await waitUntil('READY=1', () => sd.messages.some((m) => m.text.includes('READY=1')), 60_000);
      const ready = sd.messages.find((m) => m.text.includes('READY=1'))!;
      assert.match(ready.text, /STATUS=serving edgesight-digits .* on port \d+/);
      assert.match(ready.text, new RegExp(`MAINPID=${daemon.pid}`));
      // READY names the port it serves on, and that port answers /healthz.
      const port = Number(/on port (\d+)/.exec(ready.text)![1]);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);

      await waitUntil('two watchdog pings', () => sd.messages.filter((m) => m.text === 'WATCHDOG=1').length >= 2, 10_000);
      // The 2 s clip ends; health lapses and the pings stop, so systemd would restart a stalled daemon.
      await waitUntil('source ended', () => log.includes('source ended'), 20_000);
      // Frames count as flowing for 5 s after the last (pipeline/liveness.ts), then two intervals more.
      await new Promise((r) => setTimeout(r, 8_000));
      const lastPing = sd.messages.filter((m) => m.text === 'WATCHDOG=1').pop()!;
      assert.ok(Date.now() - lastPing.at > 2500, `still pinging ${Date.now() - lastPing.at} ms ago with no frames`);

      const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve));
      const stopAt = Date.now();
      daemon.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(Date.now() - stopAt < 5000);
      await waitUntil('STOPPING=1', () => sd.messages.some((m) => m.text.startsWith('STOPPING=1')), 3000);
    } finally {
      daemon.kill('SIGKILL');
      sd.child.kill();
    }
  });
});
