import type { ReactNode } from 'react';
import type { UiUser } from '@alga-psa/protocol';
import { mutate } from '../api.ts';
import { Link } from '../router.tsx';

export interface MenuItem {
  href: string;
  label: string;
}

const ROLE_LABELS = { admin: 'Admin', viewer: 'Viewer', client: 'Client portal' } as const;

export function Layout({
  user,
  home,
  menu,
  path,
  onSignedOut,
  children,
}: {
  user: UiUser;
  /** The app's own first entry: the staff app's extensions, or the client portal's home. */
  home: MenuItem;
  /** Extension pages (their `appMenu` or `clientPortalMenu` hook), after the app's own entry. */
  menu: MenuItem[];
  path: string;
  onSignedOut: () => void;
  children: ReactNode;
}) {
  const items = [home, ...menu];
  const signOut = async () => {
    await mutate('DELETE', '/ui/api/session').catch(() => undefined);
    onSignedOut();
  };
  return (
    <div className="shell">
      <header className="topbar">
        <Link href={home.href} className="brand">
          <span className="brand-mark" aria-hidden="true">
            A
          </span>
          Alga <span className="brand-sub">{user.role === 'client' ? 'Client portal' : 'Extensions'}</span>
        </Link>
        <div className="topbar-user">
          <span className="who">
            <span className="who-email">{user.email}</span>
            <span className="who-meta">
              {user.tenant} · {ROLE_LABELS[user.role]}
            </span>
          </span>
          <button type="button" className="btn btn-ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <nav className="appnav" aria-label="Main">
        {items.map((item) => (
          <Link
            key={item.href}
            href={item.href}
            className="appnav-link"
            aria-current={
              path === item.href || (item.href !== items[0]!.href && path.startsWith(`${item.href}/`))
                ? 'page'
                : undefined
            }
          >
            {item.label}
          </Link>
        ))}
      </nav>
      <main className="content" id="main">
        {children}
      </main>
    </div>
  );
}
