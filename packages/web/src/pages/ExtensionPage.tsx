import type { InstalledExtension, UiUser } from '@alga-psa/protocol';
import { ErrorPage } from '../components/ErrorPage.tsx';
import { ExtensionFrame } from '../components/ExtensionFrame.tsx';

/** What a page needs of an install; the staff app and the client portal each have their own list. */
export interface PageTarget {
  extensionId: string;
  /** The menu hook's label. */
  label: string;
  url: string;
  /** Under the title; the portal shows nothing of versions. */
  detail?: string;
}

/** An install as the staff app's page for it (its `ui.hooks.appMenu`); undefined when it has none. */
export function staffPageTarget(install: InstalledExtension | undefined): PageTarget | undefined {
  const label = install?.ui?.appMenu;
  if (!install?.ui || !label || !install.enabled) return undefined;
  return {
    extensionId: install.extensionId,
    label,
    url: install.ui.url,
    detail: `${install.extensionId} · ${install.publisher} · v${install.version}`,
  };
}

/** An extension's own page (its menu hook), embedded in the product: the staff app's or the client portal's. */
export function ExtensionPage({
  target,
  user,
  portal = false,
}: {
  target: PageTarget | undefined;
  user: UiUser;
  portal?: boolean;
}) {
  if (!target) {
    return (
      <ErrorPage
        status={404}
        title="No such extension page"
        message="This extension is not installed here, is disabled, or has no page in the menu."
        {...(portal ? { back: { href: '/client-portal', label: 'Back to the portal' } } : {})}
      />
    );
  }
  const label = target.label;
  return (
    <section className="extension-page" aria-labelledby="extension-page-title">
      <header className="page-head">
        <h1 id="extension-page-title">{label}</h1>
        {target.detail && <p className="muted">{target.detail}</p>}
      </header>
      <ExtensionFrame
        extensionId={target.extensionId}
        src={target.url}
        title={label}
        user={user}
        navigatePrefix={portal ? '/client-portal/' : '/msp/'}
      />
    </section>
  );
}
