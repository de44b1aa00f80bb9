/**
 * The platform operator's page (`/operator`): provider policy, and tenants
 * with their people (OperatorPeople.tsx). Not a tenant page, so no session. It asks for the operator key and keeps it in this
 * component's state only (never stored: a reload forgets it), sending it as
 * a bearer token to `/api/v1/operator/*`, which no cookie can reach.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { PolicyCatalog, TenantInfo } from '@alga-psa/protocol';
import { operatorCall } from '../operator-api.ts';
import { OperatorPeople } from './OperatorPeople.tsx';
import { PolicyHistory } from './PolicyHistory.tsx';

type Tenant = Pick<TenantInfo, 'id' | 'name'>;

export function OperatorPage() {
  const [key, setKey] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  const [tenants, setTenants] = useState<Tenant[]>([]);
  const [tenant, setTenant] = useState('');
  const [catalog, setCatalog] = useState<PolicyCatalog | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Bumped after each change, so the history reads the trail again. */
  const [changes, setChanges] = useState(0);

  const load = useCallback(async (operatorKey: string, tenantId: string) => {
    const q = tenantId ? `?tenant=${encodeURIComponent(tenantId)}` : '';
    setCatalog(await operatorCall<PolicyCatalog>(operatorKey, 'GET', `/api/v1/operator/policy${q}`));
  }, []);

  const signIn = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const list = await operatorCall<{ tenants: Tenant[] }>(draft, 'GET', '/api/v1/operator/tenants');
      setTenants(list.tenants);
      await load(draft, '');
      setKey(draft);
      setDraft('');
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (key) load(key, tenant).catch((e: unknown) => setError((e as Error).message));
  }, [key, tenant, load]);

  const change = async (capability: string, action: 'enable' | 'disable' | 'reset', forTenant: boolean) => {
    if (!key) return;
    setBusy(true);
    setError(null);
    const url = `/api/v1/operator/policy/${encodeURIComponent(capability)}`;
    try {
      if (action === 'reset') {
        await operatorCall(key, 'DELETE', forTenant ? `${url}?tenant=${encodeURIComponent(tenant)}` : url);
      } else {
        await operatorCall(key, 'PUT', url, { enabled: action === 'enable', ...(forTenant ? { tenant } : {}) });
      }
      await load(key, tenant);
      setChanges((n) => n + 1);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (!key) {
    return (
      <main className="signin">
        <form className="signin-card" onSubmit={signIn} aria-labelledby="operator-title">
          <div className="brand brand-lg">
            <span className="brand-mark" aria-hidden="true">
              A
            </span>
            Alga
          </div>
          <h1 id="operator-title">Platform operator</h1>
          <p className="muted">
            Provider policy, tenants and their people. The key is kept in this page only, never stored.
          </p>
          <div className="field">
            <label className="field-label" htmlFor="operator-key">
              Operator key
            </label>
            <input
              id="operator-key"
              type="password"
              autoComplete="off"
              required
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
            />
          </div>
          <div role="alert" className="signin-error">
            {error}
          </div>
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? 'Checking…' : 'Open provider policy'}
          </button>
        </form>
      </main>
    );
  }

  const selected = tenants.find((t) => t.id === tenant);
  return (
    <main className="content">
      <div className="page-head">
        <h1>Provider policy</h1>
        <button type="button" className="btn btn-ghost" onClick={() => setKey(null)}>
          Forget key
        </button>
      </div>
      <p className="muted">
        A disabled capability refuses installs that need it; running installs get “denied” within seconds. A tenant’s
        own setting wins over the global one. Every change is audited.
      </p>
      <div className="field">
        <label className="field-label" htmlFor="policy-tenant">
          Tenant
        </label>
        <select id="policy-tenant" value={tenant} onChange={(e) => setTenant(e.target.value)}>
          <option value="">All tenants (global settings)</option>
          {tenants.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </select>
      </div>
      <div role="alert" className={error ? 'notice notice-error' : undefined}>
        {error}
      </div>
      <section className="card">
        <table className="table">
          <thead>
            <tr>
              <th>Capability</th>
              <th>Globally</th>
              {selected ? <th>For {selected.name}</th> : <th>Tenant settings</th>}
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {(catalog?.capabilities ?? []).map((entry) => {
              const own = entry.tenants.find((t) => t.tenantId === tenant);
              return (
                <tr key={entry.capability} data-capability={entry.capability}>
                  <td>
                    <div className="ext-name">{entry.capability}</div>
                    <div className="ext-desc">{entry.consent}</div>
                  </td>
                  <td>
                    <span className={`badge ${entry.enabled ? 'badge-active' : 'badge-disabled'}`}>
                      {entry.configurable ? (entry.enabled ? 'Enabled' : 'Disabled') : 'Always'}
                    </span>
                  </td>
                  <td>
                    {selected ? (
                      <span className={`badge ${entry.effective ? 'badge-active' : 'badge-disabled'}`}>
                        {entry.effective ? 'Enabled' : 'Disabled'}
                        {own ? ' (tenant setting)' : ''}
                      </span>
                    ) : (
                      entry.tenants.map((t) => `${t.tenantName}: ${t.enabled ? 'enabled' : 'disabled'}`).join(', ') ||
                      '—'
                    )}
                  </td>
                  <td className="row-actions">
                    {entry.configurable && !selected ? (
                      <button
                        type="button"
                        className={`btn btn-sm ${entry.enabled ? 'btn-danger' : 'btn-secondary'}`}
                        disabled={busy}
                        onClick={() => change(entry.capability, entry.enabled ? 'disable' : 'enable', false)}
                      >
                        {entry.enabled ? 'Disable globally' : 'Enable globally'}
                      </button>
                    ) : null}
                    {entry.configurable && selected ? (
                      <>
                        <button
                          type="button"
                          className={`btn btn-sm ${entry.effective ? 'btn-danger' : 'btn-secondary'}`}
                          disabled={busy}
                          onClick={() => change(entry.capability, entry.effective ? 'disable' : 'enable', true)}
                        >
                          {entry.effective ? `Disable for ${selected.name}` : `Enable for ${selected.name}`}
                        </button>
                        {own ? (
                          <button
                            type="button"
                            className="btn btn-sm btn-ghost"
                            disabled={busy}
                            onClick={() => change(entry.capability, 'reset', true)}
                          >
                            Follow global
                          </button>
                        ) : null}
                      </>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      <PolicyHistory operatorKey={key} tenants={tenants} changed={changes} />
      <OperatorPeople
        operatorKey={key}
        tenant={selected}
        onTenantCreated={(created) => {
          setTenants((list) => [...list, created].sort((a, b) => a.name.localeCompare(b.name)));
          setTenant(created.id);
        }}
      />
    </main>
  );
}
