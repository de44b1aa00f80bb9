import { useCallback, useEffect, useState } from 'react';
import { get, loadSession } from './api.ts';
import { navigate, usePath } from './router.tsx';
import type {
  ExtensionList,
  InstalledExtension,
  PortalExtension,
  PortalExtensionList,
  UiUser,
} from '@alga-psa/protocol';
import { Layout } from './components/Layout.tsx';
import { ErrorPage } from './components/ErrorPage.tsx';
import { SignInPage } from './pages/SignInPage.tsx';
import { ExtensionsPage } from './pages/ExtensionsPage.tsx';
import { SettingsPage } from './pages/SettingsPage.tsx';
import { ExtensionPage, staffPageTarget } from './pages/ExtensionPage.tsx';
import { PortalHomePage } from './pages/PortalHomePage.tsx';
import { OperatorPage } from './pages/OperatorPage.tsx';

export const EXTENSIONS_PATH = '/msp/settings/extensions';
const SETTINGS_RE = /^\/msp\/settings\/extensions\/([^/]+)\/settings\/?$/;
export const OPERATOR_PATH = '/operator';
export const extensionPagePath = (installId: string) => `/msp/extensions/${encodeURIComponent(installId)}`;
const EXTENSION_PAGE_RE = /^\/msp\/extensions\/([^/]+)\/?$/;
/** The client portal: what a client-portal user sees, and all they see. */
export const PORTAL_PATH = '/client-portal';
export const portalPagePath = (installId: string) => `${PORTAL_PATH}/extensions/${encodeURIComponent(installId)}`;
const PORTAL_PAGE_RE = /^\/client-portal\/extensions\/([^/]+)\/?$/;
const PORTAL_HOME = { href: PORTAL_PATH, label: 'Home' };
const PORTAL_BACK = { href: PORTAL_PATH, label: 'Back to the portal' };

export function App() {
  const path = usePath();
  const [user, setUser] = useState<UiUser | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  // The installs behind the navigation's extension pages; reread on every page change, so the menu follows installs.
  const [installs, setInstalls] = useState<InstalledExtension[] | null>(null);
  // The client portal's menu, for a client-portal user instead of `installs`.
  const [portal, setPortal] = useState<PortalExtension[] | null>(null);
  const isClient = user?.role === 'client';

  useEffect(() => {
    loadSession().then(
      (session) => setUser(session.user),
      () => setLoadError('The server could not be reached. Check that it is running, then reload.'),
    );
  }, []);

  useEffect(() => {
    if (!user) return;
    if (user.role === 'client') {
      get<PortalExtensionList>('/ui/api/portal/extensions').then(
        (list) => setPortal(list.extensions),
        () => setPortal([]),
      );
      return;
    }
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
    if (path === OPERATOR_PATH) return;
    if (user === null && path !== '/signin') navigate('/signin', { replace: true });
    if (!user) return;
    const home = user.role === 'client' ? PORTAL_PATH : EXTENSIONS_PATH;
    if (path === '/' || path === '/signin' || path === '/msp' || path === '/msp/') {
      const next = new URLSearchParams(location.search).get('next');
      const own = user.role === 'client' ? `${PORTAL_PATH}/` : '/msp/';
      navigate(next?.startsWith(own) ? next : home, { replace: true });
    }
  }, [user, path]);

  // The platform operator's page stands apart from tenant sessions: its own key, no sign-in.
  if (path === OPERATOR_PATH) return <OperatorPage />;
  if (loadError) return <ErrorPage status={0} title="Cannot reach the server" message={loadError} />;
  if (user === undefined) return <div className="boot" aria-busy="true" />;
  if (user === null) return <SignInPage onSignedIn={setUser} />;
  if (isClient) return portalApp(user);

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
          target={staffPageTarget(installs.find((install) => install.id === decodeURIComponent(extensionMatch[1]!)))}
          user={user}
        />
      );
  else page = <ErrorPage status={404} title="Page not found" message="There is nothing at this address." />;
  return (
    <Layout
      user={user}
      home={{ href: EXTENSIONS_PATH, label: 'Extensions' }}
      menu={menu}
      path={path}
      onSignedOut={() => setUser(null)}
    >
      {page}
    </Layout>
  );

  /**
   * A client-portal user's whole app: the portal's home and its extension
   * pages. Staff pages are not rendered for them (and their API answers 403).
   */
  function portalApp(client: UiUser) {
    const pageMatch = PORTAL_PAGE_RE.exec(path);
    const menu = (portal ?? []).map((extension) => ({ href: portalPagePath(extension.id), label: extension.label }));
    let page;
    if (portal === null) page = <div className="boot" aria-busy="true" />;
    else if (path.replace(/\/$/, '') === PORTAL_PATH)
      page = <PortalHomePage user={client} extensions={portal} pagePath={portalPagePath} />;
    else if (pageMatch) {
      const extension = portal.find((entry) => entry.id === decodeURIComponent(pageMatch[1]!));
      page = (
        <ExtensionPage
          target={extension && { extensionId: extension.extensionId, label: extension.label, url: extension.url }}
          user={client}
          portal
        />
      );
    } else if (path.startsWith('/msp/') || path === '/msp')
      page = (
        <ErrorPage
          status={403}
          title="Not available in the client portal"
          message="This page is for your provider’s staff. The client portal shows the pages listed under Home."
          back={PORTAL_BACK}
        />
      );
    else
      page = (
        <ErrorPage status={404} title="Page not found" message="There is nothing at this address." back={PORTAL_BACK} />
      );
    return (
      <Layout user={client} home={PORTAL_HOME} menu={menu} path={path} onSignedOut={() => setUser(null)}>
        {page}
      </Layout>
    );
  }
}
