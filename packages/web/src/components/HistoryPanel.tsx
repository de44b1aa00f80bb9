import { useEffect, useState } from 'react';
import type { AuditPage, AuditRecord } from '@alga-psa/protocol';
import { get } from '../api.ts';
import { actorName, exactTime, timeAgo } from '../format.ts';

/** What an audit action means, in words; an action this page does not know is shown as it is. */
const ACTIONS: Record<string, string> = {
  'install.create': 'Installed',
  'install.upgrade': 'Upgraded',
  'install.enable': 'Enabled',
  'install.disable': 'Disabled',
  'install.reset': 'Reset to defaults',
  'config.update': 'Changed settings',
  'secret.update': 'Changed secrets',
  'secret.set': 'Set secret',
  'secret.delete': 'Cleared secret',
};

function HistoryRow({ entry }: { entry: AuditRecord }) {
  return (
    <tr>
      <td>
        <time dateTime={entry.at} title={exactTime(entry.at)}>
          {timeAgo(entry.at)}
        </time>
      </td>
      <td>{actorName(entry.actor)}</td>
      <td>
        {ACTIONS[entry.action] ?? entry.action}
        {entry.keyNames.length > 0 && <span className="history-keys"> {entry.keyNames.join(', ')}</span>}
      </td>
      <td>{entry.version ?? '—'}</td>
      <td className="history-request">{entry.requestId ?? '—'}</td>
    </tr>
  );
}

/**
 * The install's audit trail (admins only): who changed what — key names,
 * never values — with the version it produced and the request id, newest
 * first, a page at a time. `changed` re-reads it after this page saves.
 */
export function HistoryPanel({ installId, changed }: { installId: string; changed: unknown }) {
  const [entries, setEntries] = useState<AuditRecord[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const url = `/ui/api/installs/${encodeURIComponent(installId)}/audit`;

  useEffect(() => {
    let live = true;
    get<AuditPage>(`${url}?limit=20`).then(
      (page) => live && (setEntries(page.entries), setNext(page.nextBefore), setError(null)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [url, changed]);

  const more = () =>
    get<AuditPage>(`${url}?limit=20&before=${encodeURIComponent(next!)}`).then(
      (page) => (setEntries((shown) => [...(shown ?? []), ...page.entries]), setNext(page.nextBefore)),
      (e: Error) => setError(e.message),
    );

  let body;
  if (error) body = <p className="empty">History could not be loaded: {error}</p>;
  else if (!entries) body = <p className="empty">Loading…</p>;
  else if (entries.length === 0) body = <p className="empty">No changes recorded yet.</p>;
  else
    body = (
      <>
        {/* Scrolls on its own on a narrow screen instead of widening the page. */}
        <div className="history-wrap">
          <table className="history">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>What</th>
                <th>Version</th>
                <th>Request</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <HistoryRow key={entry.id} entry={entry} />
              ))}
            </tbody>
          </table>
        </div>
        {next && (
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => void more()}>
            Show older
          </button>
        )}
      </>
    );
  return (
    <section className="card" aria-labelledby="history-title">
      <div className="card-head">
        <h2 id="history-title">History</h2>
      </div>
      {body}
    </section>
  );
}
