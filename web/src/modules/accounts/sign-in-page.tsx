import { useEffect, useState, type FormEvent } from 'react';
import { Button } from '@/components/button';
import { errorMessage } from '@/lib/api';
import { ROLE_DESCRIPTIONS, ROLE_LABELS } from '@/lib/roles';
import { sessionNotice, signIn, type Session } from '@/lib/session';
import { demoAccounts, login, type DemoAccount } from './api';

/**
 * Email and password; in development, one button per demo account. Signing in stores the session;
 * the app then takes the user to the page for their role (src/app/app.tsx).
 */
export function SignInPage() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [demo, setDemo] = useState<DemoAccount[] | null>(null);
  const [notice] = useState(sessionNotice);

  useEffect(() => {
    document.title = 'Sign in · Switchboard';
    const abort = new AbortController();
    void demoAccounts(abort.signal).then((accounts) => {
      if (!abort.signal.aborted) setDemo(accounts);
    });
    return () => abort.abort();
  }, []);

  async function attempt(key: string, address: string, secret: string): Promise<void> {
    setBusy(key);
    setError(null);
    let session: Session;
    try {
      session = await login(address, secret);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(null);
      return;
    }
    signIn(session);
  }

  function submit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    void attempt('form', email.trim(), password);
  }

  return (
    <div className="sign-in">
      <div className="sign-in__panel card">
        <p className="brand">Switchboard</p>
        <h1>Sign in</h1>
        <p className="muted">Use the email and password your shop gave you.</p>
        {notice && !error ? <p className="notice">{notice}</p> : null}
        <form onSubmit={submit} noValidate>
          <label className="field">
            <span>Email</span>
            <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
          <label className="field">
            <span>Password</span>
            <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </label>
          {error ? (
            <p className="error" role="alert">
              {error}
            </p>
          ) : null}
          <Button type="submit" variant="primary" busy={busy === 'form'} disabled={busy !== null} className="button--wide">
            Sign in
          </Button>
        </form>
      </div>

      {demo && demo.length > 0 ? (
        <section className="sign-in__demo card card--muted" aria-labelledby="demo-title">
          <h2 id="demo-title">Try the demo shop</h2>
          <p className="muted">This server holds a demo shop. See it as each kind of user: one click signs you in.</p>
          <ul className="demo-accounts">
            {demo.map((account) => (
              <li key={account.email}>
                <Button
                  className="demo-account"
                  busy={busy === account.email}
                  disabled={busy !== null}
                  onClick={() => void attempt(account.email, account.email, account.password)}
                  aria-label={`Sign in as ${account.name}, ${ROLE_LABELS[account.role]}`}
                >
                  <span className="demo-account__name">{account.name}</span>
                  <span className={`role role--${account.role}`}>{ROLE_LABELS[account.role]}</span>
                  <span className="demo-account__detail">{ROLE_DESCRIPTIONS[account.role]}</span>
                  <span className="demo-account__detail">{account.email}</span>
                </Button>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
