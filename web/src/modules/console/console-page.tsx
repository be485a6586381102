import { ComingNext, Page } from '@/components/page';

/** The admin's console: accounts (GET/POST/PATCH/DELETE /api/users) and alerts:<tenant id>. Placeholder. */
export function ConsolePage() {
  return (
    <Page title="Console">
      <ComingNext>
        <p>The shop's accounts go here (add staff, change roles, disable or delete accounts), with payment alerts as they come in.</p>
      </ComingNext>
    </Page>
  );
}
