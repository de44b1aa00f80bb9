import { useState, type FormEvent } from 'react';
import type { SessionInfo, SignInRequest, UiUser } from '@alga-psa/protocol';
import { ApiError, mutate, setCsrfToken } from '../api.ts';

export function SignInPage({ onSignedIn }: { onSignedIn: (user: UiUser) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const request: SignInRequest = { email, password };
      const session = await mutate<SessionInfo>('POST', '/ui/api/session', request);
      // The token is bound to the session, and sign-in started a new one.
      setCsrfToken(session.csrfToken);
      setPassword('');
      if (session.user) onSignedIn(session.user);
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 401 ? 'The email or password is not correct.' : (e as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div className="brand brand-lg">
          <span className="brand-mark" aria-hidden="true">
            A
          </span>
          Alga
        </div>
        <h1 id="signin-title">Sign in</h1>
        <p className="muted">Manage your organisation’s extensions and their settings.</p>
        <div className="field">
          <label className="field-label" htmlFor="email">
            Email
          </label>
          <input
            id="email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </div>
        <div className="field">
          <label className="field-label" htmlFor="password">
            Password
          </label>
          <input
            id="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <div role="alert" className="signin-error">
          {error}
        </div>
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
