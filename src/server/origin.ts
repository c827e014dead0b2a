import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/**
 * A browser says where a request comes from in `Origin`. Same origin as the page (the scheme
 * this server speaks and the Host the request was sent to) or a configured origin passes; no
 * Origin means a non-browser tool, which must still authenticate. This stops another web page
 * from opening the live channel or changing settings with the visitor's cookie.
 *
 * The scheme counts: https://host:port is another origin than http://host:port, and a page
 * served over one must not act on the other. The scheme is the one of the connection itself;
 * X-Forwarded-Proto is not read because nothing here trusts a proxy. Behind a TLS reverse
 * proxy, list the public origin in server.allowedOrigins.
 */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowedOrigins.includes(origin)) return true;
  const host = req.headers.host;
  if (!host) return false;
  const scheme = (req.socket as Partial<TLSSocket>).encrypted ? 'https:' : 'http:';
  let given: URL;
  let own: URL;
  try {
    given = new URL(origin);
    // Parsed the same way as the Origin so that case and default ports (:80) compare equal.
    own = new URL(`${scheme}//${host}`);
  } catch {
    return false;
  }
  return given.protocol === own.protocol && given.host !== '' && given.host === own.host;
}

export function parseAllowedOrigins(text: string): string[] {
  return text
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter(Boolean);
}
