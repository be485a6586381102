import { ComingNext, Page } from '@/components/page';

/** The cart (GET /api/cart, live on cart:<user id>) and checkout. Placeholder until its page is built. */
export function CartPage() {
  return (
    <Page title="Cart">
      <ComingNext>
        <p>Your cart goes here, the same in every tab and on every device, with checkout.</p>
      </ComingNext>
    </Page>
  );
}
