import { useCallback, useEffect, useState } from 'react';
import type {
  AvailableExtension,
  Consent,
  EnabledChange,
  ExtensionList,
  InstallCreated,
  InstalledExtension,
  InstallRequest,
  UiUser,
} from '@alga-psa/protocol';
import { ApiError, get, mutate } from '../api.ts';
import { Link, navigate } from '../router.tsx';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { ErrorPage } from '../components/ErrorPage.tsx';
import { Notice, type NoticeState } from '../components/Notice.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';

interface Props {
  user: UiUser;
  onSignedOut: () => void;
}

export function ExtensionsPage({ user, onSignedOut }: Props) {
  const [list, setList] = useState<ExtensionList | null>(null);
  const [failure, setFailure] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<NoticeState>(null);
  const [consent, setConsent] = useState<Consent | null>(null);
  const [uninstalling, setUninstalling] = useState<InstalledExtension | null>(null);
  const [busy, setBusy] = useState(false);
  const isAdmin = user.role === 'admin';

  const reload = useCallback(async () => {
    try {
      setList(await get<ExtensionList>('/ui/api/extensions'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) onSignedOut();
      else setFailure(e as ApiError);
    }
  }, [onSignedOut]);
  useEffect(() => {
    void reload();
  }, [reload]);

  const act = async (work: () => Promise<string>) => {
    setBusy(true);
    try {
      const done = await work();
      // The list is reloaded before the notice shows, so "uninstalled" never
      // appears beside a row that is still listed.
      await reload();
      setNotice({ tone: 'success', text: done });
    } catch (e) {
      setNotice({ tone: 'error', text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };

  const startInstall = (extension: AvailableExtension) =>
    get<Consent>(`/ui/api/extensions/${encodeURIComponent(extension.extensionId)}/consent`).then(
      setConsent,
      (e: Error) => setNotice({ tone: 'error', text: e.message }),
    );

  const confirmInstall = (request: Consent) =>
    act(async () => {
      const install: InstallRequest = {
        extensionId: request.extensionId,
        version: request.version,
        consent: request.capabilities.map((c) => c.id),
      };
      const { id } = await mutate<InstallCreated>('POST', '/ui/api/installs', install);
      setConsent(null);
      navigate(`/msp/settings/extensions/${id}/settings`);
      return `${request.extensionId} installed.`;
    });

  const toggle = (install: InstalledExtension) =>
    act(async () => {
      const change: EnabledChange = { enabled: !install.enabled };
      await mutate('PUT', `/ui/api/installs/${install.id}/enabled`, change);
      return `${install.extensionId} ${install.enabled ? 'disabled' : 'enabled'}.`;
    });

  const uninstall = (install: InstalledExtension) =>
    act(async () => {
      await mutate('DELETE', `/ui/api/installs/${install.id}`);
      setUninstalling(null);
      return `${install.extensionId} uninstalled.`;
    });

  if (failure) {
    return failure.status === 403 ? (
      <ErrorPage status={403} title="No access" message={failure.message} />
    ) : (
      <ErrorPage status={failure.status} title="Something went wrong" message={failure.message} />
    );
  }

  return (
    <>
      <div className="page-head">
        <div>
          <p className="crumbs">Settings</p>
          <h1>Extensions</h1>
          <p className="muted">Extensions installed for {user.tenant}, and the ones you can add.</p>
        </div>
      </div>
      <Notice notice={notice} />
      <section className="card" aria-labelledby="installed-title">
        <div className="card-head">
          <h2 id="installed-title">Installed</h2>
          {list && <span className="count">{list.installed.length}</span>}
        </div>
        {!list ? (
          <p className="empty">Loading…</p>
        ) : list.installed.length === 0 ? (
          <p className="empty">Nothing is installed yet. Pick an extension below.</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Extension</th>
                <th scope="col">Version</th>
                <th scope="col">Status</th>
                {isAdmin && <th scope="col">Enabled</th>}
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.installed.map((install) => (
                <tr key={install.id} data-extension={install.extensionId}>
                  <td>
                    <div className="ext-name">{install.extensionId}</div>
                    <div className="ext-desc">
                      {install.description ?? 'No description.'}{' '}
                      <span className="ext-publisher">by {install.publisher}</span>
                    </div>
                  </td>
                  <td>
                    <code>{install.version}</code>
                  </td>
                  <td>
                    <StatusBadge status={install.status} />
                  </td>
                  {isAdmin && (
                    <td>
                      <label className="switch">
                        <input
                          type="checkbox"
                          role="switch"
                          checked={install.enabled}
                          disabled={busy}
                          onChange={() => toggle(install)}
                          aria-label={`Enable ${install.extensionId}`}
                        />
                        <span className="switch-track" aria-hidden="true" />
                      </label>
                    </td>
                  )}
                  <td className="row-actions">
                    <Link href={`/msp/settings/extensions/${install.id}/settings`} className="btn btn-secondary btn-sm">
                      Settings<span className="sr-only"> for {install.extensionId}</span>
                    </Link>
                    {isAdmin && (
                      <button
                        type="button"
                        className="btn btn-ghost btn-sm danger-text"
                        onClick={() => setUninstalling(install)}
                      >
                        Uninstall<span className="sr-only"> {install.extensionId}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card" aria-labelledby="available-title">
        <div className="card-head">
          <h2 id="available-title">Available</h2>
          {list && <span className="count">{list.available.length}</span>}
        </div>
        {list && list.available.length === 0 && <p className="empty">Every published extension is installed.</p>}
        <ul className="grid">
          {list?.available.map((extension) => (
            <li key={extension.extensionId} className="tile" data-extension={extension.extensionId}>
              <div className="ext-name">{extension.extensionId}</div>
              <div className="ext-desc">{extension.description ?? 'No description.'}</div>
              <div className="tile-foot">
                <span className="muted small">
                  v{extension.version} · {extension.publisher}
                </span>
                {isAdmin && (
                  <button type="button" className="btn btn-primary btn-sm" onClick={() => startInstall(extension)}>
                    Install<span className="sr-only"> {extension.extensionId}</span>
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      </section>

      <ConfirmDialog
        open={consent !== null}
        title={consent ? `Install ${consent.extensionId} ${consent.version}?` : ''}
        confirmLabel="Allow and install"
        busy={busy}
        onCancel={() => setConsent(null)}
        onConfirm={() => consent && confirmInstall(consent)}
      >
        {consent && (
          <>
            <p>
              <strong>{consent.extensionId}</strong> by {consent.publisher} asks for this access:
            </p>
            <ul className="consent-list">
              {consent.capabilities.map((cap) => (
                <li key={cap.id}>
                  {cap.description} <code>{cap.id}</code>
                </li>
              ))}
            </ul>
            {consent.allowedHosts.length > 0 && (
              <p className="small">
                Outbound hosts: <code>{consent.allowedHosts.join(', ')}</code>
              </p>
            )}
            {Object.entries(consent.secretEgress).map(([key, hosts]) => (
              <p className="small" key={`egress-${key}`}>
                Secret <code>{key}</code> is only ever sent to <code>{hosts.join(', ')}</code> (the extension never sees
                its value).
              </p>
            ))}
            {consent.notRequested.length > 0 && (
              <>
                <p className="small">Imported, not requested (never granted; every call is refused):</p>
                <ul className="consent-list small">
                  {consent.notRequested.map((entry) => (
                    <li key={entry.iface}>
                      <code>{entry.iface}</code>
                      {entry.capability ? (
                        <>
                          {' '}
                          would need <code>{entry.capability}</code>
                        </>
                      ) : (
                        ' is not provided by this platform'
                      )}
                    </li>
                  ))}
                </ul>
              </>
            )}
            {consent.acceptsAnyPath && (
              <p className="small">
                This extension declares no endpoints: it accepts requests on any path under its URL.
              </p>
            )}
          </>
        )}
      </ConfirmDialog>
      <ConfirmDialog
        open={uninstalling !== null}
        title={uninstalling ? `Uninstall ${uninstalling.extensionId}?` : ''}
        confirmLabel="Uninstall"
        tone="danger"
        busy={busy}
        onCancel={() => setUninstalling(null)}
        onConfirm={() => uninstalling && uninstall(uninstalling)}
      >
        <p>Its settings, secrets and stored data are deleted. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
