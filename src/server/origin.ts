import type { IncomingMessage } from 'node:http';

/**
 * A browser says where a request comes from in `Origin`. Same origin as the page (the Host
 * the request was sent to) or a configured origin passes; no Origin means a non-browser tool,
 * which must still authenticate. This stops another web page from opening the live channel
 * or changing settings with the visitor's cookie.
 */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowedOrigins.includes(origin)) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return host !== '' && host === req.headers.host;
}

export function parseAllowedOrigins(text: string): string[] {
  return text
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter(Boolean);
}
