/**
 * Token helpers. The SDK never verifies tokens (it has no key); it only reads `exp` to know when
 * to ask `getToken` for a new one, in case the server did not say (welcome.expiresAt).
 */

/** The `exp` claim of a JWT as ms since the epoch, or null when absent or unreadable. */
export function jwtExpiry(token: string): number | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const json = JSON.parse(base64UrlDecode(payload)) as unknown;
    if (json === null || typeof json !== 'object') return null;
    const exp = (json as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** UTF-8 text of a base64url string, with atob and TextDecoder: present in browsers and Node, unlike Buffer. */
function base64UrlDecode(input: string): string {
  const base64 = input.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(input.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/**
 * How long to wait before refreshing a token that expires at `expiresAt`: at 80% of its remaining
 * life, but no earlier than 30 s before expiry, so long-lived tokens are not refreshed needlessly
 * early and short-lived ones still get a margin for the round trip.
 */
export function refreshDelay(expiresAt: number, now: number): number {
  const remaining = expiresAt - now;
  return Math.max(0, Math.max(remaining * 0.8, remaining - 30_000));
}
