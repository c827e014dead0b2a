/**
 * The one admission rule behind `server.maxViewers`: every open live-channel client (with
 * frames or only predictions: each is a socket the daemon writes to every frame or status tick)
 * and every MJPEG stream holds one seat while it is connected. A snapshot is answered and gone
 * and holds none. Both doors ask this one counter, so neither can fill the house behind the
 * other's back.
 */
export class ViewerSeats {
  private used = 0;

  constructor(readonly max: number) {}

  /** A seat, as the function that gives it back (safe to call more than once), or undefined when full. */
  take(): (() => void) | undefined {
    if (this.used >= this.max) return undefined;
    this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
    };
  }

  get taken(): number {
    return this.used;
  }

  /** Why a client was turned away, the same words at both doors. */
  get refusal(): string {
    return `too many viewers (server.maxViewers = ${this.max} live-channel clients and MJPEG streams together)`;
  }
}
