import { formatMoney } from './format';

/** An amount in minor units: `<Money minor={1250} currency="USD" />` shows $12.50. */
export function Money({ minor, currency }: { minor: number; currency: string }) {
  return <span className="money">{formatMoney(minor, currency)}</span>;
}
