import { useState } from 'react';

interface Props {
  /** The manifest's own allowedHosts (not editable here). */
  allowedHosts: string[];
  granted: string[];
  canEdit: boolean;
  busy: boolean;
  /** Saves the whole list; answers the server's message when it refuses. */
  onSave: (hosts: string[]) => Promise<string | null>;
}

/**
 * Outbound hosts for an install with cap:http.fetch: the manifest's own
 * list, plus hosts a tenant admin grants here (a reference-host manifest
 * lists none, so it has no egress until granted). Deny by default: an empty
 * list grants nothing.
 */
export function EgressGrants({ allowedHosts, granted, canEdit, busy, onSave }: Props) {
  const [text, setText] = useState(granted.join('\n'));
  const [problem, setProblem] = useState<string | null>(null);
  const save = async () => {
    const hosts = text
      .split(/[\s,]+/)
      .map((host) => host.trim())
      .filter(Boolean);
    setProblem(await onSave(hosts));
  };
  return (
    <section className="card" aria-labelledby="egress-title">
      <div className="card-head">
        <h2 id="egress-title">Outbound hosts</h2>
        <span className="muted small">The extension may call only these hosts; nothing else is reachable.</span>
      </div>
      <p className="small">
        From its manifest:{' '}
        {allowedHosts.length > 0 ? <code>{allowedHosts.join(', ')}</code> : <span className="muted">none</span>}
      </p>
      <div className={`field${problem ? ' has-error' : ''}`}>
        <label htmlFor="egress-hosts">
          Granted for this install (one per line, e.g. api.example.com or *.example.com)
        </label>
        <textarea
          id="egress-hosts"
          rows={3}
          value={text}
          disabled={!canEdit || busy}
          onChange={(event) => setText(event.target.value)}
        />
        {problem && (
          <p className="field-error" role="alert">
            {problem}
          </p>
        )}
      </div>
      {canEdit && (
        <button type="button" className="btn btn-secondary btn-sm" disabled={busy} onClick={save}>
          Save hosts
        </button>
      )}
    </section>
  );
}
