import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FailureLimiter } from './failure-limiter';

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
 * Sessions are stateless (expiry + HMAC keyed by the secret): nothing grows per session, they
 * survive a restart, and a new secret ends them all. Secrets are compared in constant time.
 */
export class Authenticator {
  readonly limiter = new FailureLimiter();
  private readonly secretDigest: Buffer;
  private readonly sessionKey: Buffer;

  constructor(readonly mode: AuthMode, secret: string) {
    this.secretDigest = sha256(secret);
    this.sessionKey = createHmac('sha256', 'edgesight-session-v1').update(secret).digest();
  }

  get required(): boolean {
    return this.mode !== 'none';
  }

  /** Constant-time: both sides are hashed to equal-length digests first. */
  secretMatches(candidate: string): boolean {
    return timingSafeEqual(sha256(candidate), this.secretDigest);
  }

  newSessionCookie(now = Date.now()): { value: string; maxAgeSeconds: number } {
    const expires = now + SESSION_DAYS * 86400_000;
    return { value: `${expires}.${this.sign(String(expires))}`, maxAgeSeconds: SESSION_DAYS * 86400 };
  }

  sessionValid(value: string, now = Date.now()): boolean {
    const dot = value.indexOf('.');
    if (dot <= 0) return false;
    const expires = Number(value.slice(0, dot));
    if (!Number.isFinite(expires) || expires < now) return false;
    const given = Buffer.from(value.slice(dot + 1));
    const expected = Buffer.from(this.sign(value.slice(0, dot)));
    return given.length === expected.length && timingSafeEqual(given, expected);
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
    const blocked = this.limiter.blockedFor(clientAddress(req));
    if (blocked > 0) return { ok: false, reason: 'blocked', retryAfterSeconds: blocked };
    // An expired or foreign cookie is not a guess at the secret: it does not count as a failure.
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    return cookie !== undefined && this.sessionValid(cookie) ? { ok: true } : { ok: false, reason: 'missing' };
  }

  /** One presented secret (header, handshake, login form): counted per address, refused while blocked. */
  signIn(req: IncomingMessage, secret: string): AuthResult {
    const address = clientAddress(req);
    const blocked = this.limiter.blockedFor(address);
    if (blocked > 0) return { ok: false, reason: 'blocked', retryAfterSeconds: blocked };
    if (this.secretMatches(secret)) {
      this.limiter.recordSuccess(address);
      return { ok: true };
    }
    this.limiter.recordFailure(address);
    return { ok: false, reason: 'wrong' };
  }

  private sign(text: string): string {
    return createHmac('sha256', this.sessionKey).update(text).digest('base64url');
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
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
