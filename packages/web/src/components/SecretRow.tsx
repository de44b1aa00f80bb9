import type { SettingsSecret } from '@alga-psa/protocol';
import { actorName, exactTime, timeAgo } from '../format.ts';

/** What the person has staged for one secret; applied with the rest of the form on Save. */
export type SecretChange =
  | { mode: 'keep' }
  | {
      mode: 'replace';
      value: string;
      /** yyyy-mm-dd, end of that day local time; empty: never expires. */ expires?: string;
    }
  | { mode: 'clear' };

/** The end of the chosen day in the browser's time zone, as the ISO time the server stores. */
export function expiryFromDate(day: string): string {
  return new Date(`${day}T23:59:59`).toISOString();
}

/** "expires in 3 days" / "expired 2 hours ago", or nothing for a secret that never expires. */
function Expiry({ at }: { at: string | null }) {
  if (!at) return null;
  const expired = Date.parse(at) <= Date.now();
  return (
    <span className={expired ? 'secret-expired' : 'secret-expires'} data-expiry={expired ? 'expired' : 'expires'}>
      {' · '}
      <time dateTime={at} title={exactTime(at)}>
        {expired ? `expired ${timeAgo(at)}` : `expires ${timeAgo(at)}`}
      </time>
    </span>
  );
}

interface Props {
  secret: SettingsSecret;
  change: SecretChange;
  canEdit: boolean;
  error?: string;
  onChange: (change: SecretChange) => void;
}

function SecretState({ secret }: { secret: SettingsSecret }) {
  if (!secret.set) return <span className="secret-state secret-unset">Not set</span>;
  return (
    <span className="secret-state secret-set">
      Set · version {secret.version} · updated{' '}
      <time dateTime={secret.updatedAt ?? undefined} title={secret.updatedAt ? exactTime(secret.updatedAt) : undefined}>
        {secret.updatedAt ? timeAgo(secret.updatedAt) : 'at an unknown time'}
      </time>{' '}
      by {actorName(secret.updatedBy)}
      <Expiry at={secret.expiresAt} />
    </span>
  );
}

/** Why a stored value does not reach the installed version, and what brings it back. */
function Withheld({ secret }: { secret: SettingsSecret }) {
  if (!secret.set || !secret.withheld) return null;
  return (
    <p className="secret-withheld" data-withheld={secret.declared ? 'egress' : 'undeclared'}>
      {secret.declared
        ? 'Not given to this version: the value was set when it could be sent to fewer hosts than this version allows. Set it again to give it to this version.'
        : 'Not given to this version. It is kept, encrypted, for a version that uses it; clear it if none will.'}
    </p>
  );
}

/**
 * One secret: its state and, for admins, write-only replace / clear. The
 * input is a password field that starts empty; the stored value is never
 * fetched, so there is nothing to reveal.
 */
export function SecretRow({ secret, change, canEdit, error, onChange }: Props) {
  const inputId = `secret-${secret.key}`;
  const errorId = `${inputId}-error`;
  return (
    <li className={`secret${error ? ' has-error' : ''}`} data-secret={secret.key}>
      <div className="secret-head">
        <div>
          <p className="secret-label">
            {secret.label}
            {secret.required && (
              <span className="required" aria-hidden="true">
                {' '}
                *
              </span>
            )}
            {secret.required && <span className="sr-only"> (required)</span>}
            <code className="secret-key">{secret.key}</code>
          </p>
          {secret.description && <p className="field-hint">{secret.description}</p>}
          <SecretState secret={secret} />
          <Withheld secret={secret} />
          {change.mode === 'clear' && <p className="secret-pending">Will be cleared when you save.</p>}
        </div>
        {canEdit && change.mode === 'keep' && (
          <div className="secret-actions">
            <button
              type="button"
              className="btn btn-secondary btn-sm"
              onClick={() => onChange({ mode: 'replace', value: '' })}
            >
              {secret.set ? 'Replace' : 'Set value'}
              <span className="sr-only"> for {secret.label}</span>
            </button>
            {secret.set && (
              <button
                type="button"
                className="btn btn-ghost btn-sm danger-text"
                onClick={() => onChange({ mode: 'clear' })}
              >
                Clear<span className="sr-only"> {secret.label}</span>
              </button>
            )}
          </div>
        )}
        {canEdit && change.mode === 'clear' && (
          <div className="secret-actions">
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => onChange({ mode: 'keep' })}>
              Undo
            </button>
          </div>
        )}
      </div>
      {canEdit && change.mode === 'replace' && (
        <div className="secret-editor">
          <label className="field-label" htmlFor={inputId}>
            New value for {secret.label}
          </label>
          <div className="secret-editor-row">
            <input
              id={inputId}
              type="password"
              autoComplete="new-password"
              spellCheck={false}
              value={change.value}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
              onChange={(e) => onChange({ ...change, value: e.target.value })}
              autoFocus
            />
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => onChange({ mode: 'keep' })}>
              Cancel
            </button>
          </div>
          <p className="field-hint">Write-only: saved encrypted, never shown again.</p>
          <label className="field-label" htmlFor={`${inputId}-expires`}>
            Expires (optional)
          </label>
          <input
            id={`${inputId}-expires`}
            type="date"
            className="secret-expiry-input"
            value={change.expires ?? ''}
            onChange={(e) => onChange({ ...change, expires: e.target.value })}
          />
          <p className="field-hint">After this day the extension reads the secret as expired. Empty: never.</p>
        </div>
      )}
      {error && (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
    </li>
  );
}
