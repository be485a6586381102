import { ComingNext, Page } from '@/components/page';
import { useSession } from '@/lib/session';

/** The shop: the catalogue with live stock (GET /api/products). Placeholder until its page is built. */
export function ShopPage() {
  const session = useSession();
  return (
    <Page title="Shop" intro={session ? `Welcome to ${session.user.tenant.name}.` : undefined}>
      <ComingNext>
        <p>The catalogue goes here: every product with its variants, prices and stock, kept up to date while you look.</p>
      </ComingNext>
    </Page>
  );
}
