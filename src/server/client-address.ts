import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';
import { isAddressOrCidr, splitList } from '../config/fields';

/**
 * Who a request comes from, for the sign-in limiter, the handshake budget and the logs.
 *
 * Behind a reverse proxy (nginx, Caddy, Traefik terminating TLS) every request arrives from the
 * proxy's address, so a limiter keyed on the socket would let ten wrong tokens from anyone lock
 * out everyone. `X-Forwarded-For` is believed only when the request came from a trusted proxy
 * (`server.trustedProxies`), and then read from the right: each trusted hop is skipped and the
 * first address that is not a trusted proxy is the client (the leftmost entries can be written
 * by the client itself, so they are never taken while an untrusted hop stands before them).
 */
export class ClientAddresses {
  private readonly trusted = new net.BlockList();
  readonly trustsAny: boolean;

  /** `trustedProxies`: comma-separated addresses and CIDR blocks, as server.trustedProxies. */
  constructor(trustedProxies = '') {
    const entries = splitList(trustedProxies);
    for (const entry of entries) {
      if (!isAddressOrCidr(entry)) throw new Error(`server.trustedProxies: '${entry}' is not an IP address or CIDR block`);
      const slash = entry.indexOf('/');
      const address = slash < 0 ? entry : entry.slice(0, slash);
      const type = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (slash < 0) this.trusted.addAddress(address, type);
      else this.trusted.addSubnet(address, Number(entry.slice(slash + 1)), type);
    }
    this.trustsAny = entries.length > 0;
  }

  /** The client's address: the socket's, or the nearest untrusted hop of X-Forwarded-For behind trusted proxies. */
  of(req: IncomingMessage): string {
    const peer = plain(req.socket.remoteAddress ?? 'unknown');
    if (!this.trustsAny || !this.isTrusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => plain(s.trim()));
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i];
      // A malformed entry ends the chain: what lies left of it cannot be vouched for.
      if (net.isIP(hop) === 0) break;
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return client;
  }

  isTrusted(address: string): boolean {
    const family = net.isIP(address);
    if (family === 0) return false;
    return this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; the limiter and the lists use a.b.c.d. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}
