import type { InstalledExtension, UiUser } from '@alga-psa/protocol';
import { ErrorPage } from '../components/ErrorPage.tsx';
import { ExtensionFrame } from '../components/ExtensionFrame.tsx';

/** An extension's own page (its `ui.hooks.appMenu`), embedded in the product. */
export function ExtensionPage({ install, user }: { install: InstalledExtension | undefined; user: UiUser }) {
  const label = install?.ui?.appMenu;
  if (!install?.ui || !label || !install.enabled) {
    return (
      <ErrorPage
        status={404}
        title="No such extension page"
        message="This extension is not installed here, is disabled, or has no page in the menu."
      />
    );
  }
  return (
    <section className="extension-page" aria-labelledby="extension-page-title">
      <header className="page-head">
        <h1 id="extension-page-title">{label}</h1>
        <p className="muted">
          {install.extensionId} · {install.publisher} · v{install.version}
        </p>
      </header>
      <ExtensionFrame extensionId={install.extensionId} src={install.ui.url} title={label} user={user} />
    </section>
  );
}
