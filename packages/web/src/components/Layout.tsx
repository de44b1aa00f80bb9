import type { ReactNode } from 'react';
import { send } from '../api.ts';
import { Link } from '../router.tsx';
import type { User } from '../types.ts';

export function Layout({ user, onSignedOut, children }: { user: User; onSignedOut: () => void; children: ReactNode }) {
  const signOut = async () => {
    await send('DELETE', '/ui/api/session').catch(() => undefined);
    onSignedOut();
  };
  return (
    <div className="shell">
      <header className="topbar">
        <Link href="/msp/settings/extensions" className="brand">
          <span className="brand-mark" aria-hidden="true">
            A
          </span>
          Alga <span className="brand-sub">Extensions</span>
        </Link>
        <div className="topbar-user">
          <span className="who">
            <span className="who-email">{user.email}</span>
            <span className="who-meta">
              {user.tenant} · {user.role === 'admin' ? 'Admin' : 'Viewer'}
            </span>
          </span>
          <button type="button" className="btn btn-ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main className="content" id="main">
        {children}
      </main>
    </div>
  );
}
