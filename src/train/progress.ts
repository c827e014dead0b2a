/**
 * One progress bar per epoch on stderr with ETA and the running loss and accuracy, redrawn in
 * place on a terminal; where stderr is a file or pipe, one line per epoch instead.
 */
export class ProgressBar {
  private started = 0;
  private lastDraw = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly epochs: number) {}

  startEpoch(): void {
    this.started = performance.now();
    this.lastDraw = 0;
  }

  batch(epoch: number, done: number, total: number, loss: number, accuracy: number): void {
    if (!this.out.isTTY) return;
    const now = performance.now();
    if (done < total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 28;
    const filled = Math.round((width * done) / total);
    const elapsed = (now - this.started) / 1000;
    const eta = done ? (elapsed * (total - done)) / done : 0;
    this.out.write(`\r\x1b[Kepoch ${epoch}/${this.epochs} [${'='.repeat(Math.max(0, filled - 1))}${filled ? '>' : ''}${' '.repeat(width - filled)}] ${done}/${total} ETA ${formatSeconds(eta)} loss ${loss.toFixed(4)} acc ${(accuracy * 100).toFixed(1)}%`);
  }

  endEpoch(line: string): void {
    this.out.write(this.out.isTTY ? `\r\x1b[K${line}\n` : `${line}\n`);
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
