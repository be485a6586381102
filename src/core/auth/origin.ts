const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface OriginPolicy {
  allowedOrigins: string[];
  /** Development and test: any localhost origin is allowed. */
  allowLocalhost: boolean;
}

/**
 * Checked before the WebSocket upgrade: a browser page from another site must not open a
 * connection that rides on the user's cookie (cross-site WebSocket hijacking). Clients that send
 * no Origin are not browsers; they authenticate by token and are let through here.
 */
export function isOriginAllowed(origin: string | undefined, host: string | undefined, policy: OriginPolicy): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (host !== undefined && url.host === host.toLowerCase()) return true;
  if (policy.allowLocalhost && LOCAL_HOSTS.has(url.hostname)) return true;
  return policy.allowedOrigins.some((allowed) => allowed === '*' || originOf(allowed) === url.origin);
}

/** `https://shop.example.com:443/` and `https://shop.example.com` are the same origin. */
function originOf(allowed: string): string | null {
  try {
    return new URL(allowed).origin;
  } catch {
    return null;
  }
}
