import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ClientAddresses } from './client-address';
import { FailureLimiter } from './failure-limiter';
import { SessionStore } from './session-store';

export type AuthMode = 'token' | 'password' | 'none';

export const SESSION_COOKIE = 'edgesight_session';
const SESSION_DAYS = 30;

/** What a request presented, and whether it passed. */
export type AuthResult =
  | { ok: true }
  | { ok: false; reason: 'missing' | 'wrong' }
  | { ok: false; reason: 'blocked'; retryAfterSeconds: number };

/**
 * Decides who may see the camera. A request proves itself with the secret (token or password)
 * as `Authorization: Bearer S`, as the password of HTTP Basic (VLC, Home Assistant), in the
 * socket.io handshake's auth payload, or with the session cookie that signing in sets.
 * A session cookie is `id.expires.mac`, the HMAC keyed by the secret (so a new secret ends
 * every session, and nobody can forge or extend one); it is good only while its id is in the
 * session store, so signing out ends it on the server too. Secrets are compared in constant time.
 */
export class Authenticator {
  readonly limiter = new FailureLimiter();
  /** Sign-ins refused since start: a wrong secret, or any secret from a blocked address (for /metrics). */
  readonly refusedSignIns = { wrong: 0, blocked: 0 };
  readonly sessions: SessionStore;
  private readonly secretDigest: Buffer;
  private readonly sessionKey: Buffer;

  /**
   * `sessions` is made from `sessionKeyId(secret)` to survive restarts; by default they live in memory.
   * `addresses` says who a request comes from (behind trusted proxies, X-Forwarded-For).
   */
  constructor(readonly mode: AuthMode, secret: string, sessions?: SessionStore, readonly addresses = new ClientAddresses()) {
    this.secretDigest = sha256(secret);
    this.sessionKey = sessionKeyOf(secret);
    this.sessions = sessions ?? new SessionStore(sessionKeyId(secret));
  }

  get required(): boolean {
    return this.mode !== 'none';
  }

  /** Constant-time: both sides are hashed to equal-length digests first. */
  secretMatches(candidate: string): boolean {
    return timingSafeEqual(sha256(candidate), this.secretDigest);
  }

  newSessionCookie(now = Date.now()): { value: string; maxAgeSeconds: number } {
    const id = randomBytes(16).toString('base64url');
    const expires = now + SESSION_DAYS * 86400_000;
    this.sessions.add(id, expires, now);
    const signed = `${id}.${expires}`;
    return { value: `${signed}.${this.sign(signed)}`, maxAgeSeconds: SESSION_DAYS * 86400 };
  }

  sessionValid(value: string, now = Date.now()): boolean {
    const session = this.parseSession(value);
    return session !== undefined && session.expires >= now && this.sessions.has(session.id, now);
  }

  /** Signing out: the session this cookie names stops working everywhere, not just here. */
  endSession(value: string): void {
    const session = this.parseSession(value);
    if (session) this.sessions.end(session.id);
  }

  /** The id and expiry of a cookie this secret signed, or undefined for anything else. */
  private parseSession(value: string): { id: string; expires: number } | undefined {
    const parts = value.split('.');
    if (parts.length !== 3) return undefined;
    const [id, expiresText, mac] = parts;
    const expires = Number(expiresText);
    if (!id || !Number.isFinite(expires)) return undefined;
    const given = Buffer.from(mac);
    const expected = Buffer.from(this.sign(`${id}.${expiresText}`));
    return given.length === expected.length && timingSafeEqual(given, expected) ? { id, expires } : undefined;
  }

  /**
   * Checks an HTTP request (or a socket.io handshake with `handshakeSecret`). A wrong secret
   * counts as a failed sign-in for the client's address; too many and the address is refused
   * for a while, even with the right secret, so guessing stays slow.
   */
  check(req: IncomingMessage, handshakeSecret?: unknown): AuthResult {
    if (!this.required) return { ok: true };
    const presented = typeof handshakeSecret === 'string' && handshakeSecret ? handshakeSecret : secretFromHeaders(req);
    if (presented !== undefined) return this.signIn(req, presented);
    const blocked = this.limiter.blockedFor(this.addresses.of(req));
    if (blocked > 0) return { ok: false, reason: 'blocked', retryAfterSeconds: blocked };
    // An expired or foreign cookie is not a guess at the secret: it does not count as a failure.
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    return cookie !== undefined && this.sessionValid(cookie) ? { ok: true } : { ok: false, reason: 'missing' };
  }

  /** One presented secret (header, handshake, login form): counted per address, refused while blocked. */
  signIn(req: IncomingMessage, secret: string): AuthResult {
    const address = this.addresses.of(req);
    const blocked = this.limiter.blockedFor(address);
    if (blocked > 0) {
      this.refusedSignIns.blocked++;
      return { ok: false, reason: 'blocked', retryAfterSeconds: blocked };
    }
    if (this.secretMatches(secret)) {
      this.limiter.recordSuccess(address);
      return { ok: true };
    }
    this.refusedSignIns.wrong++;
    this.limiter.recordFailure(address);
    return { ok: false, reason: 'wrong' };
  }

  private sign(text: string): string {
    return createHmac('sha256', this.sessionKey).update(text).digest('base64url');
  }
}

function sessionKeyOf(secret: string): Buffer {
  return createHmac('sha256', 'edgesight-session-v2').update(secret).digest();
}

/** Names the secret a sessions file belongs to without revealing it (a digest of the session key). */
export function sessionKeyId(secret: string): string {
  return createHash('sha256').update(sessionKeyOf(secret)).digest('base64url');
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Bearer token, or the password half of Basic credentials (any user name). */
function secretFromHeaders(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : decoded;
  }
  return '';
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
