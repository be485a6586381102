/** What a provider's callback says happened to a payment. */
export interface ProviderOutcome {
  /** The provider's reference for the payment (what `start` returned). */
  providerRef: string;
  status: 'succeeded' | 'failed';
  reason?: string;
}

export interface PaymentStart {
  providerRef: string;
  /** What the client does next (e.g. "approve on your phone", a redirect URL), shown as is. */
  next: Record<string, unknown>;
}

/**
 * A payment provider (sandbox, M-Pesa STK push, Razorpay…). The provider confirms a payment by
 * calling back `POST /api/payments/callback/<name>`; `verify` checks that the call really comes
 * from the provider (a signature over the raw body) before anything is read from it.
 */
export interface PaymentProvider {
  readonly name: string;
  start(payment: { id: string; amountMinor: number; currency: string; userId: string }): Promise<PaymentStart>;
  /** Returns the outcome, or null when the signature does not verify. */
  verify(rawBody: string, headers: Record<string, string | string[] | undefined>): ProviderOutcome | null;
}
