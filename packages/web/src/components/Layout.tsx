import type { ReactNode } from 'react';
import type { UiUser } from '@alga-psa/protocol';
import { mutate } from '../api.ts';
import { Link } from '../router.tsx';

export function Layout({
  user,
  onSignedOut,
  children,
}: {
  user: UiUser;
  onSignedOut: () => void;
  children: ReactNode;
}) {
  const signOut = async () => {
    await mutate('DELETE', '/ui/api/session').catch(() => undefined);
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
