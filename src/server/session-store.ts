import * as fs from 'node:fs';

/** The sessions file's name in the state directory, next to the token. */
export const SESSIONS_FILE = 'sessions.json';

/** What the sessions file holds: which secret the sessions belong to, and each live one's expiry. */
interface SessionsFile {
  key: string;
  sessions: Record<string, number>;
}

/**
 * The live session ids and when each expires. A session cookie is only as good as its id's
 * presence here, so signing out (one id) and a new secret (all ids) end sessions on the
 * server, not just in the browser that held the cookie.
 *
 * Bounded: at most `maxSessions`; a new one beyond that pushes out the one that expires
 * soonest (the oldest sign-in, since all sessions last equally long). Only signing in adds
 * one, and that needs the secret.
 *
 * With a file, the set is written there (0600, replaced atomically) on every change and read
 * back at start, so sessions survive a restart as they did when cookies were stateless. The
 * file names the secret it belongs to by `keyId` (a digest, not the secret): a file left by
 * another token or password is ignored, so a rotated token or changed password never brings
 * old sessions back.
 */
export class SessionStore {
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly keyId: string,
    private readonly file?: string,
    private readonly maxSessions = 256,
    /** Told when the file cannot be written; sessions then live in memory until a restart. */
    private readonly onSaveError: (err: Error) => void = () => undefined,
  ) {}

  /** Reads the file, if any and if it belongs to this secret. Unreadable or foreign: start empty. */
  load(now = Date.now()): void {
    if (!this.file) return;
    let parsed: SessionsFile;
    try {
      parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as SessionsFile;
    } catch {
      return;
    }
    if (parsed?.key !== this.keyId || typeof parsed.sessions !== 'object' || parsed.sessions === null) return;
    const live = Object.entries(parsed.sessions).filter(([, expires]) => typeof expires === 'number' && expires > now);
    live.sort((a, b) => a[1] - b[1]);
    for (const [id, expires] of live.slice(-this.maxSessions)) this.sessions.set(id, expires);
  }

  add(id: string, expires: number, now = Date.now()): void {
    this.prune(now);
    while (this.sessions.size >= this.maxSessions) this.sessions.delete(this.soonestExpiring());
    this.sessions.set(id, expires);
    this.save();
  }

  has(id: string, now = Date.now()): boolean {
    const expires = this.sessions.get(id);
    return expires !== undefined && expires >= now;
  }

  end(id: string): void {
    if (this.sessions.delete(id)) this.save();
  }

  get size(): number {
    return this.sessions.size;
  }

  private prune(now: number): void {
    for (const [id, expires] of this.sessions) if (expires < now) this.sessions.delete(id);
  }

  private soonestExpiring(): string {
    let soonest: [string, number] | undefined;
    for (const entry of this.sessions) if (!soonest || entry[1] < soonest[1]) soonest = entry;
    return soonest![0];
  }

  private save(): void {
    if (!this.file) return;
    const content: SessionsFile = { key: this.keyId, sessions: Object.fromEntries(this.sessions) };
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(temp, JSON.stringify(content), { mode: 0o600 });
      fs.renameSync(temp, this.file);
    } catch (err) {
      this.onSaveError(err as Error);
    }
  }
}
