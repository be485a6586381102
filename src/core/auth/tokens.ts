import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, errors, jwtVerify } from 'jose';
import type { UserInfo } from '@switchboard/client/protocol';

export type Verified = { ok: true; user: UserInfo; expiresAt: number | null } | { ok: false; reason: 'expired' | 'invalid'; detail: string };

export interface MintOptions {
  user: string;
  role: string;
  tenant?: string;
  /** Lifetime in seconds; 0 mints a token that never expires (development only). */
  ttlSeconds?: number;
}

/** HS256 JWTs: `sub` is the user id, `role` and optional `tenant` come along as claims. */
export class TokenService {
  #key: Uint8Array;
  #requireExpiry: boolean;

  /** `requireExpiry` (production): a token without `exp` would be valid forever if it leaked. */
  constructor(secret: string, options: { requireExpiry?: boolean } = {}) {
    this.#key = new TextEncoder().encode(secret);
    this.#requireExpiry = options.requireExpiry ?? false;
  }

  async verify(token: string): Promise<Verified> {
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) return { ok: false, reason: 'invalid', detail: 'the token has no sub (user id)' };
      if (this.#requireExpiry && typeof payload.exp !== 'number') return { ok: false, reason: 'invalid', detail: 'the token has no exp; tokens must expire' };
      const role = typeof payload.role === 'string' ? payload.role : 'user';
      const user: UserInfo = { id: payload.sub, role };
      if (typeof payload.tenant === 'string') user.tenant = payload.tenant;
      return { ok: true, user, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null };
    } catch (err) {
      return { ok: false, ...explain(err) };
    }
  }

  async mint(options: MintOptions): Promise<string> {
    const claims: Record<string, string> = { role: options.role };
    if (options.tenant) claims.tenant = options.tenant;
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(options.user).setIssuedAt();
    const ttl = options.ttlSeconds ?? 3600;
    if (ttl > 0) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + ttl);
    return jwt.sign(this.#key);
  }
}

/** What went wrong with a token, in words a person can act on (jose says "Invalid Compact JWS"). */
function explain(err: unknown): { reason: 'expired' | 'invalid'; detail: string } {
  if (err instanceof errors.JWTExpired) {
    const exp = typeof err.payload.exp === 'number' ? ` at ${new Date(err.payload.exp * 1000).toISOString()}` : '';
    return { reason: 'expired', detail: `the token expired${exp}; sign in again (or refresh it before it expires)` };
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return { reason: 'invalid', detail: "the token's signature does not match: it was signed with another secret, or altered" };
  if (err instanceof errors.JOSEAlgNotAllowed) return { reason: 'invalid', detail: 'the token is not signed with HS256, the only algorithm accepted' };
  if (err instanceof errors.JWTClaimValidationFailed) return { reason: 'invalid', detail: `the token's ${err.claim} claim is not valid yet or not acceptable: ${err.reason}` };
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return { reason: 'invalid', detail: 'malformed token: expected a JWT (three base64url parts separated by dots) from POST /api/auth/login or `switchboard token`' };
  return { reason: 'invalid', detail: 'the token could not be verified' };
}

/** Returns `given`, or a random secret kept in `dataDir/file` so development restarts keep it
 * (tokens minted yesterday still verify). The file is readable by its owner only. */
export async function keptSecret(given: string | null, dataDir: string, file: string): Promise<{ value: string; generated: boolean }> {
  if (given) return { value: given, generated: false };
  const path = join(dataDir, file);
  try {
    const value = (await readFile(path, 'utf8')).trim();
    if (value.length >= 16) return { value, generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const value = randomBytes(32).toString('base64url');
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return { value, generated: true };
}
