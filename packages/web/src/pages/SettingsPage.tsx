import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import {
  keyProblem,
  type ConfigFieldError,
  type SaveSettingsRequest,
  type SettingsView,
  type UiUser,
} from '@alga-psa/protocol';
import type { ApiError } from '../api.ts';
import { get, mutate } from '../api.ts';
import { Link } from '../router.tsx';
import { fromDraft, toDraft, validateDraft, type Draft } from '../validate.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { ErrorPage } from '../components/ErrorPage.tsx';
import { HistoryPanel } from '../components/HistoryPanel.tsx';
import { LogsPanel } from '../components/LogsPanel.tsx';
import { Notice, type NoticeState } from '../components/Notice.tsx';
import { CustomKeys } from '../components/CustomKeys.tsx';
import { EgressGrants } from '../components/EgressGrants.tsx';
import { expiryFromDate, SecretRow, type SecretChange } from '../components/SecretRow.tsx';
import { SettingField } from '../components/SettingField.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';

interface Props {
  installId: string;
  user: UiUser;
  onSignedOut: () => void;
}

type Errors = Record<string, string>;

/** One message per field (the first), keyed like the inputs: a setting's key or `secrets.<key>`. */
function toErrors(list: ConfigFieldError[]): Errors {
  const errors: Errors = {};
  for (const error of list) errors[error.field] ??= error.message;
  return errors;
}

export function SettingsPage({ installId, user, onSignedOut }: Props) {
  const [view, setView] = useState<SettingsView | null>(null);
  const [failure, setFailure] = useState<ApiError | null>(null);
  const [draft, setDraft] = useState<Draft>({});
  const [secretChanges, setSecretChanges] = useState<Record<string, SecretChange>>({});
  const [errors, setErrors] = useState<Errors>({});
  const [notice, setNotice] = useState<NoticeState>(null);
  const [busy, setBusy] = useState(false);
  const [confirmReset, setConfirmReset] = useState(false);
  /** Custom config keys (an extension that declares no settings), as the form edits them. */
  const [custom, setCustom] = useState<Record<string, string>>({});
  /** The form as the server last gave it, to tell whether anything is unsaved. */
  const [baseline, setBaseline] = useState('');
  /** Bumped after every change, so the logs panel shows what the change caused. */
  const [logsKey, setLogsKey] = useState(0);
  const url = `/ui/api/installs/${encodeURIComponent(installId)}`;

  const settings = useMemo(() => view?.groups.flatMap((group) => group.settings) ?? [], [view]);

  /** Takes a fresh server view and throws away everything staged: the form now shows what is stored. */
  const adopt = useCallback((next: SettingsView) => {
    const nextDraft = toDraft(
      next.groups.flatMap((g) => g.settings),
      next.config,
    );
    const nextCustom = next.customKeys
      ? Object.fromEntries(
          Object.entries(next.config).map(([key, value]) => [
            key,
            typeof value === 'string' ? value : JSON.stringify(value),
          ]),
        )
      : {};
    setView(next);
    setDraft(nextDraft);
    setSecretChanges({});
    setErrors({});
    setCustom(nextCustom);
    setBaseline(JSON.stringify([nextDraft, nextCustom]));
  }, []);

  useEffect(() => {
    get<SettingsView>(`${url}/settings`).then(adopt, (e: ApiError) =>
      e.status === 401 ? onSignedOut() : setFailure(e),
    );
  }, [url, adopt, onSignedOut]);

  if (failure) {
    if (failure.status === 404)
      return (
        <ErrorPage
          status={404}
          title="Extension not found"
          message="This extension is not installed in your organisation, or the link is wrong."
        />
      );
    if (failure.status === 403) return <ErrorPage status={403} title="No access" message={failure.message} />;
    return <ErrorPage status={failure.status} title="Something went wrong" message={failure.message} />;
  }
  if (!view) return <p className="empty">Loading…</p>;

  const canEdit = view.canEdit;
  const staged = Object.entries(secretChanges).filter(([, change]) => change.mode !== 'keep');
  const unsaved = staged.length > 0 || JSON.stringify([draft, custom]) !== baseline;
  const storedSecrets = view.secrets.filter((s) => s.set).length;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const clientErrors = validateDraft(settings, draft);
    for (const key of view.customKeys ? Object.keys(custom) : []) {
      const problem = keyProblem(key);
      if (problem) clientErrors.push({ field: key, message: problem });
    }
    for (const [key, change] of staged) {
      if (change.mode === 'replace' && change.value === '')
        clientErrors.push({ field: `secrets.${key}`, message: 'Enter a value, or cancel the replacement.' });
    }
    if (clientErrors.length > 0) {
      setErrors(toErrors(clientErrors));
      setNotice({
        tone: 'error',
        text: `Not saved: ${clientErrors.length === 1 ? 'one field needs' : `${clientErrors.length} fields need`} attention.`,
      });
      return;
    }
    setBusy(true);
    try {
      const change: SaveSettingsRequest = {
        config: view.customKeys ? custom : fromDraft(settings, draft),
        secrets: {
          set: Object.fromEntries(staged.flatMap(([key, c]) => (c.mode === 'replace' ? [[key, c.value]] : []))),
          expires: Object.fromEntries(
            staged.flatMap(([key, c]) => (c.mode === 'replace' && c.expires ? [[key, expiryFromDate(c.expires)]] : [])),
          ),
          clear: staged.filter(([, c]) => c.mode === 'clear').map(([key]) => key),
        },
      };
      const next = await mutate<SettingsView>('PUT', `${url}/settings`, change);
      adopt(next);
      setLogsKey((key) => key + 1);
      setNotice({ tone: 'success', text: `Saved. Settings are at version ${next.configVersion}.` });
    } catch (e) {
      const error = e as ApiError;
      if (error.status === 401) return onSignedOut();
      setErrors(toErrors(error.fieldErrors ?? []));
      setNotice({ tone: 'error', text: error.message || 'Saving failed; nothing was saved.' });
    } finally {
      setBusy(false);
    }
  };

  const reset = async () => {
    setBusy(true);
    try {
      adopt(await mutate<SettingsView>('POST', `${url}/reset`));
      setLogsKey((key) => key + 1);
      setNotice({
        tone: 'success',
        text:
          storedSecrets === 0
            ? 'Settings restored to their defaults.'
            : `Settings restored to their defaults and ${storedSecrets === 1 ? 'the stored secret' : 'all stored secrets'} cleared.`,
      });
    } catch (e) {
      setNotice({ tone: 'error', text: (e as Error).message });
    } finally {
      setBusy(false);
      setConfirmReset(false);
    }
  };

  const setField = (key: string, value: Draft[string]) => {
    setDraft((current) => ({ ...current, [key]: value }));
    // An edited field's old error no longer describes it.
    setErrors(({ [key]: _dropped, ...rest }) => rest);
  };

  const errorCount = Object.keys(errors).length;
  return (
    <>
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link href="/msp/settings/extensions">Extensions</Link> <span aria-hidden="true">/</span> Settings
          </p>
          <h1>
            {view.install.extensionId} <span className="version">v{view.install.version}</span>
          </h1>
          <p className="muted">
            {view.install.description ?? 'No description.'} <StatusBadge status={view.install.status} />
          </p>
        </div>
      </div>
      {!canEdit && (
        <p className="banner" role="note">
          You have read-only access. Ask a tenant admin to change these settings.
        </p>
      )}
      <Notice notice={notice} />
      {errorCount > 0 && (
        <div className="error-summary" role="alert">
          <strong>Fix {errorCount === 1 ? 'this field' : `these ${errorCount} fields`}:</strong>
          <ul>
            {Object.entries(errors).map(([field, message]) => (
              <li key={field}>
                <a href={`#${field.startsWith('secrets.') ? `secret-${field.slice(8)}` : `setting-${field}`}`}>
                  {message}
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
      <form onSubmit={save} noValidate aria-label="Extension settings">
        {view.customKeys && (
          <CustomKeys
            config={custom}
            secretKeys={view.secrets.map((secret) => secret.key)}
            staged={secretChanges}
            errors={errors}
            disabled={!canEdit || busy}
            onConfigChange={(next) => setCustom(next)}
            onAddSecret={(key, value) =>
              setSecretChanges((current) => ({ ...current, [key]: { mode: 'replace', value } }))
            }
            onDropSecret={(key) => setSecretChanges(({ [key]: _dropped, ...rest }) => rest)}
          />
        )}
        {view.groups.length === 0 && !view.customKeys && (
          <section className="card">
            <p className="empty">This extension has no settings.</p>
          </section>
        )}
        {view.groups.map((group) => (
          <section key={group.category} className="card" aria-labelledby={`group-${group.category}`}>
            <h2 id={`group-${group.category}`}>{group.category}</h2>
            <div className="fields">
              {group.settings.map((setting) => (
                <SettingField
                  key={setting.key}
                  setting={setting}
                  value={draft[setting.key] ?? ''}
                  error={errors[setting.key]}
                  disabled={!canEdit || busy}
                  onChange={(value) => setField(setting.key, value)}
                />
              ))}
            </div>
          </section>
        ))}
        {view.secrets.length > 0 && (
          <section className="card" aria-labelledby="secrets-title">
            <div className="card-head">
              <h2 id="secrets-title">Secrets</h2>
              <span className="muted small">Encrypted at rest; only the extension’s runner can read them.</span>
            </div>
            <ul className="secrets">
              {view.secrets.map((secret) => (
                <SecretRow
                  key={secret.key}
                  secret={secret}
                  canEdit={canEdit}
                  change={secretChanges[secret.key] ?? { mode: 'keep' }}
                  error={errors[`secrets.${secret.key}`]}
                  onChange={(change) => {
                    setSecretChanges((current) => ({ ...current, [secret.key]: change }));
                    setErrors(({ [`secrets.${secret.key}`]: _dropped, ...rest }) => rest);
                  }}
                />
              ))}
            </ul>
          </section>
        )}
        {canEdit && (
          <div className="actions-bar">
            <button
              type="button"
              className="btn btn-ghost danger-text"
              onClick={() => setConfirmReset(true)}
              disabled={busy}
            >
              Reset to defaults
            </button>
            {unsaved && !busy && (
              <span className="unsaved" role="status">
                Unsaved changes
              </span>
            )}
            <button type="submit" className="btn btn-primary" disabled={busy || !unsaved}>
              {busy ? 'Saving…' : 'Save changes'}
            </button>
          </div>
        )}
      </form>
      {view.install.grantedCapabilities.includes('cap:http.fetch') && (
        <EgressGrants
          key={view.install.egressGrants.join('\n')}
          allowedHosts={view.allowedHosts}
          granted={view.install.egressGrants}
          canEdit={canEdit}
          busy={busy}
          onSave={async (hosts) => {
            setBusy(true);
            try {
              const next = await mutate<SettingsView>('PUT', `${url}/egress`, { hosts });
              adopt(next);
              setNotice({ tone: 'success', text: 'Outbound hosts saved.' });
              return null;
            } catch (e) {
              const error = e as ApiError;
              if (error.status === 401) onSignedOut();
              return error.fieldErrors?.map((f) => f.message).join(' ') || error.message;
            } finally {
              setBusy(false);
            }
          }}
        />
      )}
      {user.role === 'admin' && <HistoryPanel installId={installId} changed={view} />}
      {user.role === 'admin' && <LogsPanel installId={installId} refreshKey={logsKey} />}
      <ConfirmDialog
        open={confirmReset}
        title="Reset to defaults?"
        confirmLabel="Reset and clear secrets"
        tone="danger"
        busy={busy}
        onCancel={() => setConfirmReset(false)}
        onConfirm={reset}
      >
        <p>
          Every setting goes back to the extension’s default
          {storedSecrets === 0 ? (
            '. No secret is stored, so none is cleared.'
          ) : (
            <>
              {' '}
              and{' '}
              <strong>
                {storedSecrets === 1
                  ? 'the 1 stored secret is cleared'
                  : `all ${storedSecrets} stored secrets are cleared`}
              </strong>
              . The extension may stop working until required secrets are set again.
            </>
          )}
        </p>
      </ConfirmDialog>
    </>
  );
}
