import { useEffect, useState } from 'react';
import type { LogsView } from '@alga-psa/protocol';
import { get } from '../api.ts';
import { exactTime } from '../format.ts';

/** While the panel is on screen, how often it rereads the logs (calls through the gateway log too). */
const REFRESH_EVERY_MS = 10_000;

/**
 * Recent per-install log lines (admins only). Says so plainly when the server
 * keeps no logs yet. Rereads when `refreshKey` changes (after a save), every
 * few seconds while the tab is visible, and on Refresh.
 */
export function LogsPanel({ installId, refreshKey = 0 }: { installId: string; refreshKey?: number }) {
  const [logs, setLogs] = useState<LogsView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let live = true;
    get<LogsView>(`/ui/api/installs/${encodeURIComponent(installId)}/logs`).then(
      (view) => live && (setLogs(view), setError(null)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [installId, nonce, refreshKey]);
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') setNonce((n) => n + 1);
    }, REFRESH_EVERY_MS);
    return () => clearInterval(timer);
  }, []);

  let body;
  if (error) body = <p className="empty">Logs could not be loaded: {error}</p>;
  else if (!logs) body = <p className="empty">Loading…</p>;
  else if (!logs.available)
    body = <p className="empty">Log storage is not available on this server yet, so no log lines can be shown.</p>;
  else if (logs.entries.length === 0) body = <p className="empty">No log lines yet.</p>;
  else
    body = (
      <ol className="log-list">
        {logs.entries.map((entry, index) => (
          <li key={index} className={`log log-${entry.level ?? 'info'}`}>
            {entry.at && <time dateTime={entry.at}>{exactTime(entry.at)}</time>}
            {entry.level && <span className="log-level">{entry.level}</span>}
            <span className="log-message">{entry.message}</span>
          </li>
        ))}
      </ol>
    );
  return (
    <section className="card" aria-labelledby="logs-title">
      <div className="card-head">
        <h2 id="logs-title">Recent logs</h2>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => setNonce((n) => n + 1)}>
          Refresh
        </button>
      </div>
      {body}
    </section>
  );
}
