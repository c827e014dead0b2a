import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../util/logger';

/**
 * Node cannot write to a Unix datagram socket, which is what systemd's NOTIFY_SOCKET is. This
 * small relay, started once, reads one JSON string per line and sends each as one datagram.
 * It ignores SIGTERM (systemd signals the whole cgroup on stop, and STOPPING=1 must still get
 * through) and exits when edgesight closes its stdin or exits.
 */
const RELAY = `
import json, os, signal, socket, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\\0" + addr[1:]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for line in sys.stdin:
    try:
        sock.sendto(json.loads(line).encode(), addr)
    except (OSError, ValueError) as err:
        print("sd_notify relay: %s" % err, file=sys.stderr, flush=True)
`;

/**
 * sd_notify for Type=notify services: READY=1, STATUS=..., WATCHDOG=1, STOPPING=1. Without
 * NOTIFY_SOCKET (not under systemd, or Type=simple) every call is a no-op.
 */
export class SystemdNotifier {
  private relay: ChildProcess | undefined;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
    private readonly python = '/usr/bin/python3',
  ) {}

  get active(): boolean {
    return Boolean(this.env.NOTIFY_SOCKET);
  }

  /** How often to send WATCHDOG=1 (half of WatchdogSec, as sd_watchdog_enabled advises), if the watchdog is on. */
  get watchdogIntervalMs(): number | undefined {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.active || !Number.isFinite(usec) || usec <= 0) return undefined;
    const pid = Number(this.env.WATCHDOG_PID);
    if (Number.isFinite(pid) && pid > 0 && pid !== process.pid) return undefined;
    return usec / 1000 / 2;
  }

  ready(status: string): void {
    this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  status(text: string): void {
    this.send(`STATUS=${text}`);
  }

  watchdog(): void {
    this.send('WATCHDOG=1');
  }

  stopping(): void {
    this.send('STOPPING=1\nSTATUS=stopping');
  }

  close(): void {
    this.relay?.stdin?.end();
    this.relay = undefined;
  }

  private send(message: string): void {
    if (!this.active) return;
    const relay = this.relay ?? this.startRelay();
    relay?.stdin?.write(JSON.stringify(message) + '\n');
  }

  private startRelay(): ChildProcess | undefined {
    try {
      const child = spawn(this.python, ['-c', RELAY], { env: { NOTIFY_SOCKET: this.env.NOTIFY_SOCKET }, stdio: ['pipe', 'ignore', 'pipe'] });
      child.on('error', (err) => this.log.error({ err: err.message }, `systemd notify relay (${this.python}) failed: systemd will not hear READY or WATCHDOG`));
      child.stderr?.on('data', (chunk: Buffer) => this.log.warn(chunk.toString().trim()));
      child.stdin?.on('error', () => undefined);
      child.unref();
      // Neither the relay nor its pipes may keep the process alive at exit.
      for (const pipe of [child.stdin, child.stderr]) (pipe as unknown as { unref?: () => void } | null)?.unref?.();
      this.relay = child;
      return child;
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cannot start the systemd notify relay');
      return undefined;
    }
  }
}
