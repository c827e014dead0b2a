import type { IncomingMessage } from 'node:http';
import type { Authenticator } from './auth';
import { originAllowed } from './origin';

/** An engine.io connection as the gate sees it: where it came from, the request that opened it, its end. */
export interface EngineConnection {
  remoteAddress: string;
  request: IncomingMessage;
  once(event: 'close', listener: () => void): unknown;
}

export interface HandshakeGateOptions {
  auth: Authenticator;
  allowedOrigins: readonly string[];
  /** Open connections not yet signed in, per address and in all, beyond which handshakes without credentials are refused. */
  maxUnauthenticatedPerAddress: number;
  maxUnauthenticated: number;
}

/**
 * Decides, before engine.io allocates a session (socket.io's `allowRequest`), whether a
 * handshake may have one. Without this, every GET /socket.io/?EIO=4&transport=polling got a
 * session id and its buffers, with or without credentials.
 *
 * - A foreign Origin is refused.
 * - The session cookie or an Authorization header (Bearer, Basic) is checked here: right passes,
 *   wrong or a blocked address is refused (403, engine.io's answer for a refused handshake).
 * - Without either, the client may still be about to send the token in socket.io's auth
 *   payload (the documented `io(url, { auth: { token } })`), which only arrives after the
 *   handshake. Such handshakes get a small budget of open connections not yet signed in, per
 *   address and in all; beyond it they are refused. Connections leave the budget when they sign
 *   in (`signedIn`) or close (engine.io drops them after its ping timeout).
 *
 * Open connections are those engine.io announced (`opened`) and has not closed yet; signed-in
 * ones are skipped when counting, so nothing but a set of open connections is kept.
 */
export class HandshakeGate {
  private readonly signedInRequests = new WeakSet<IncomingMessage>();
  private readonly open = new Set<EngineConnection>();

  constructor(private readonly options: HandshakeGateOptions) {}

  /** socket.io's allowRequest: `callback(message, allowed)`. */
  allowRequest(req: IncomingMessage, callback: (message: string | null | undefined, allowed: boolean) => void): void {
    const { auth, allowedOrigins } = this.options;
    if (!originAllowed(req, allowedOrigins)) return callback(`origin ${req.headers.origin} is not allowed (server.allowedOrigins)`, false);
    if (!auth.required) return callback(null, true);
    const result = auth.check(req);
    if (result.ok) {
      this.signedInRequests.add(req);
      return callback(null, true);
    }
    if (result.reason === 'blocked') return callback(`too many failed sign-ins; try again in ${result.retryAfterSeconds} s`, false);
    if (result.reason === 'wrong') return callback('wrong token', false);
    const address = auth.addresses.of(req);
    let fromAddress = 0;
    let all = 0;
    for (const conn of this.open) {
      if (this.signedInRequests.has(conn.request)) continue;
      all++;
      if (auth.addresses.of(conn.request) === address) fromAddress++;
    }
    if (fromAddress >= this.options.maxUnauthenticatedPerAddress || all >= this.options.maxUnauthenticated) return callback('sign in first: send the session cookie or Authorization: Bearer <token>', false);
    callback(null, true);
  }

  /** engine.io's `connection` event: counted until it closes. */
  opened(conn: EngineConnection): void {
    this.open.add(conn);
    conn.once('close', () => this.open.delete(conn));
  }

  /** A connection that signed in later (socket.io auth payload) no longer counts against the budget. */
  signedIn(request: IncomingMessage): void {
    this.signedInRequests.add(request);
  }
}
