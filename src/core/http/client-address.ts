import { BlockList, isIP } from 'node:net';

/** An entry of SWITCHBOARD_TRUSTED_PROXIES: an address, a CIDR range, or `loopback`. */
export function isProxySpec(spec: string): boolean {
  if (spec === 'loopback') return true;
  const [address, bits, extra] = spec.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1: one client, one count. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The reverse proxies whose `X-Forwarded-For` is believed. None by default: a header any client
 * can write must not decide which address a connection is counted against.
 */
export class TrustedProxies {
  readonly #list: BlockList | null;

  constructor(specs: readonly string[]) {
    if (specs.length === 0) {
      this.#list = null;
      return;
    }
    const list = new BlockList();
    for (const spec of specs) {
      if (spec === 'loopback') {
        list.addSubnet('127.0.0.0', 8, 'ipv4');
        list.addSubnet('::1', 128, 'ipv6');
        continue;
      }
      const [address = '', bits] = spec.split('/');
      const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) list.addAddress(address, type);
      else list.addSubnet(address, Number(bits), type);
    }
    this.#list = list;
  }

  get any(): boolean {
    return this.#list !== null;
  }

  trusts(address: string): boolean {
    if (!this.#list) return false;
    const family = isIP(address);
    return family !== 0 && this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client's address: the socket's peer, or, when the peer is a trusted proxy, the nearest
   * address in X-Forwarded-For (read from the right) that is not one of ours. Addresses further
   * left were written by whoever connected to our first proxy and prove nothing.
   */
  clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const remote = normalizeAddress(peer ?? 'unknown');
    if (!this.#list || !this.trusts(remote) || forwardedFor === undefined) return remote;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((h) => normalizeAddress(h.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return remote; // a garbled header: count the proxy, not a made-up name
      if (!this.trusts(hop)) return hop;
    }
    return remote;
  }
}
