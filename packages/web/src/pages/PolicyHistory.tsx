/**
 * The operator page's policy trail: every enable, disable and reset, newest
 * first, with the operator key's audit name and the request id. Re-read when
 * `changed` changes (after each change made on the page).
 */
import { useEffect, useState } from 'react';
import type { PolicyAuditPage, TenantInfo } from '@alga-psa/protocol';
import { exactTime, timeAgo } from '../format.ts';
import { operatorCall } from '../operator-api.ts';

const ACTIONS: Record<string, string> = {
  'policy.enable': 'Enabled',
  'policy.disable': 'Disabled',
  'policy.reset': 'Reset',
};

export function PolicyHistory(props: {
  operatorKey: string;
  tenants: Pick<TenantInfo, 'id' | 'name'>[];
  changed: unknown;
}) {
  const { operatorKey, tenants, changed } = props;
  const [page, setPage] = useState<PolicyAuditPage | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    operatorCall<PolicyAuditPage>(operatorKey, 'GET', '/api/v1/operator/policy/audit?limit=20').then(
      (next) => live && (setPage(next), setError(null)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [operatorKey, changed]);

  const tenantName = (id: string | null) =>
    id === null ? 'every tenant (global)' : (tenants.find((t) => t.id === id)?.name ?? id);
  return (
    <section className="card" aria-labelledby="policy-history-title">
      <h2 id="policy-history-title">Policy history</h2>
      {error ? <div className="notice notice-error">{error}</div> : null}
      {page && page.entries.length === 0 ? <p className="muted">No policy changes yet.</p> : null}
      {page && page.entries.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th>When</th>
              <th>Operator key</th>
              <th>Change</th>
              <th>For</th>
              <th>Request</th>
            </tr>
          </thead>
          <tbody>
            {page.entries.map((entry) => (
              <tr key={entry.id} data-policy-change={entry.action}>
                <td>
                  <time dateTime={entry.at} title={exactTime(entry.at)}>
                    {timeAgo(entry.at)}
                  </time>
                </td>
                <td>{entry.actor}</td>
                <td>
                  {ACTIONS[entry.action] ?? entry.action} {entry.keyNames.join(', ')}
                </td>
                <td>{tenantName(entry.tenantId)}</td>
                <td className="history-request">{entry.requestId ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
