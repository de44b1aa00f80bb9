import type { PortalExtension, UiUser } from '@alga-psa/protocol';
import { Link } from '../router.tsx';

/** The client portal's start page: the extension pages this tenant offers its clients, nothing else. */
export function PortalHomePage({
  user,
  extensions,
  pagePath,
}: {
  user: UiUser;
  extensions: PortalExtension[];
  pagePath: (installId: string) => string;
}) {
  return (
    <section aria-labelledby="portal-title">
      <header className="page-head">
        <h1 id="portal-title">Client portal</h1>
        <p className="muted">
          Welcome{user.name ? `, ${user.name}` : ''}. These are the pages {user.tenant} offers you.
        </p>
      </header>
      <div className="card">
        {extensions.length === 0 ? (
          <p className="empty">No pages are available in the portal yet.</p>
        ) : (
          <ul className="portal-list">
            {extensions.map((extension) => (
              <li key={extension.id}>
                <Link href={pagePath(extension.id)}>{extension.label}</Link>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
