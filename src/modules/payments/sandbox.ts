import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PaymentProvider, PaymentStart, ProviderOutcome } from './provider.js';

export const SANDBOX_SIGNATURE_HEADER = 'x-sandbox-signature';

/**
 * The built-in provider for development and tests. It takes no money: "approving" a payment makes
 * the sandbox call the callback route exactly as a real provider would, signed with its secret
 * (HMAC-SHA256 of the raw body, hex, in X-Sandbox-Signature), so the confirmation path under test
 * is the production one.
 */
export class SandboxProvider implements PaymentProvider {
  readonly name = 'sandbox';

  constructor(private readonly secret: string) {}

  async start(payment: { id: string }): Promise<PaymentStart> {
    return {
      providerRef: `sbx_${payment.id}`,
      next: { type: 'sandbox_approval', message: 'Sandbox payment: approve or decline it with POST /api/payments/<id>/sandbox', approveUrl: `/api/payments/${payment.id}/sandbox` },
    };
  }

  /** The callback a sandbox approval sends: body and headers. */
  callback(outcome: ProviderOutcome): { body: string; headers: Record<string, string> } {
    const body = JSON.stringify({ ref: outcome.providerRef, status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}) });
    return { body, headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: this.sign(body) } };
  }

  sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('hex');
  }

  verify(rawBody: string, headers: Record<string, string | string[] | undefined>): ProviderOutcome | null {
    const given = headers[SANDBOX_SIGNATURE_HEADER];
    if (typeof given !== 'string' || !/^[0-9a-f]{64}$/.test(given)) return null;
    if (!timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(this.sign(rawBody), 'hex'))) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawBody);
    } catch {
      return null;
    }
    const p = parsed as { ref?: unknown; status?: unknown; reason?: unknown };
    if (typeof p.ref !== 'string' || (p.status !== 'succeeded' && p.status !== 'failed')) return null;
    return { providerRef: p.ref, status: p.status, ...(typeof p.reason === 'string' ? { reason: p.reason } : {}) };
  }
}
