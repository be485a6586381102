/** Console: the admin's page for accounts and alerts. */
export { ConsolePage } from './console-page';
