import { useCallback, useEffect, useState } from 'react';
import { get, loadSession } from './api.ts';
import { navigate, usePath } from './router.tsx';
import type { ExtensionList, InstalledExtension, UiUser } from '@alga-psa/protocol';
import { Layout } from './components/Layout.tsx';
import { ErrorPage } from './components/ErrorPage.tsx';
import { SignInPage } from './pages/SignInPage.tsx';
import { ExtensionsPage } from './pages/ExtensionsPage.tsx';
import { SettingsPage } from './pages/SettingsPage.tsx';
import { ExtensionPage } from './pages/ExtensionPage.tsx';

export const EXTENSIONS_PATH = '/msp/settings/extensions';
const SETTINGS_RE = /^\/msp\/settings\/extensions\/([^/]+)\/settings\/?$/;
export const extensionPagePath = (installId: string) => `/msp/extensions/${encodeURIComponent(installId)}`;
const EXTENSION_PAGE_RE = /^\/msp\/extensions\/([^/]+)\/?$/;

export function App() {
  const path = usePath();
  const [user, setUser] = useState<UiUser | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  // The installs behind the navigation's extension pages; reread on every page change, so the menu follows installs.
  const [installs, setInstalls] = useState<InstalledExtension[] | null>(null);

  useEffect(() => {
    loadSession().then(
      (session) => setUser(session.user),
      () => setLoadError('The server could not be reached. Check that it is running, then reload.'),
    );
  }, []);

  useEffect(() => {
    if (!user) return;
    get<ExtensionList>('/ui/api/extensions').then(
      (list) => setInstalls(list.installed),
      () => setInstalls([]),
    );
  }, [user, path]);

  const signedOut = useCallback(() => {
    setUser(null);
    navigate(`/signin?next=${encodeURIComponent(location.pathname)}`, { replace: true });
  }, []);

  useEffect(() => {
    if (user === null && path !== '/signin') navigate('/signin', { replace: true });
    if (user && (path === '/' || path === '/signin' || path === '/msp' || path === '/msp/')) {
      const next = new URLSearchParams(location.search).get('next');
      navigate(next?.startsWith('/msp/') ? next : EXTENSIONS_PATH, { replace: true });
    }
  }, [user, path]);

  if (loadError) return <ErrorPage status={0} title="Cannot reach the server" message={loadError} />;
  if (user === undefined) return <div className="boot" aria-busy="true" />;
  if (user === null) return <SignInPage onSignedIn={setUser} />;

  const settingsMatch = SETTINGS_RE.exec(path);
  const extensionMatch = EXTENSION_PAGE_RE.exec(path);
  const menu = (installs ?? []).flatMap((install) =>
    install.enabled && install.ui?.appMenu ? [{ href: extensionPagePath(install.id), label: install.ui.appMenu }] : [],
  );
  let page;
  if (path.replace(/\/$/, '') === EXTENSIONS_PATH) page = <ExtensionsPage user={user} onSignedOut={signedOut} />;
  else if (settingsMatch)
    page = (
      <SettingsPage
        key={settingsMatch[1]}
        installId={decodeURIComponent(settingsMatch[1]!)}
        user={user}
        onSignedOut={signedOut}
      />
    );
  else if (extensionMatch)
    page =
      installs === null ? (
        <div className="boot" aria-busy="true" />
      ) : (
        <ExtensionPage
          install={installs.find((install) => install.id === decodeURIComponent(extensionMatch[1]!))}
          user={user}
        />
      );
  else page = <ErrorPage status={404} title="Page not found" message="There is nothing at this address." />;
  return (
    <Layout user={user} menu={menu} path={path} onSignedOut={() => setUser(null)}>
      {page}
    </Layout>
  );
}
