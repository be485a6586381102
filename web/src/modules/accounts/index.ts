/** Accounts: signing in. (Account administration for admins comes with the console.) */
export { SignInPage } from './sign-in-page';
