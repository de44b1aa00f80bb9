/**
 * The operator page's tenants and people: create a tenant (its first admin
 * API key is shown once, here only), and for the tenant chosen above, list
 * its web users and add one (a generated password is shown once). Keys and
 * passwords live in this component's state until the operator dismisses
 * them or leaves the page; nothing is stored.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import {
  USER_ROLES,
  type TenantCreated,
  type TenantInfo,
  type UserCreated,
  type UserInfo,
  type UserList,
  type UserRole,
} from '@alga-psa/protocol';
import { operatorCall } from '../operator-api.ts';

type Tenant = Pick<TenantInfo, 'id' | 'name'>;

/** A labelled, required text input of the page's small forms. */
function TextField(props: {
  id: string;
  label: string;
  type?: 'text' | 'email';
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <div className="field">
      <label className="field-label" htmlFor={props.id}>
        {props.label}
      </label>
      <input
        id={props.id}
        type={props.type ?? 'text'}
        required
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </div>
  );
}

/** What was just created and is shown once. */
type ShownOnce = { label: string; value: string } | null;

export function OperatorPeople(props: {
  operatorKey: string;
  tenant: Tenant | undefined;
  onTenantCreated: (tenant: Tenant) => void;
}) {
  const { operatorKey, tenant, onTenantCreated } = props;
  const [users, setUsers] = useState<UserInfo[]>([]);
  const [tenantName, setTenantName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<UserRole>('admin');
  const [clientId, setClientId] = useState('');
  const [shown, setShown] = useState<ShownOnce>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const loadUsers = useCallback(
    async (id: string) =>
      setUsers((await operatorCall<UserList>(operatorKey, 'GET', `/api/v1/operator/tenants/${id}/users`)).users),
    [operatorKey],
  );

  useEffect(() => {
    setUsers([]);
    if (tenant) loadUsers(tenant.id).catch((e: unknown) => setError((e as Error).message));
  }, [tenant, loadUsers]);

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setShown(null);
    try {
      await work();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const createTenant = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const created = await operatorCall<TenantCreated>(operatorKey, 'POST', '/api/v1/operator/tenants', {
        name: tenantName,
      });
      setTenantName('');
      setShown({ label: `Admin API key of ${created.tenant.name}`, value: created.apiKey });
      onTenantCreated(created.tenant);
    });
  };

  const addUser = (event: FormEvent) => {
    event.preventDefault();
    if (!tenant) return;
    void run(async () => {
      const created = await operatorCall<UserCreated>(
        operatorKey,
        'POST',
        `/api/v1/operator/tenants/${tenant.id}/users`,
        { email, role, ...(role === 'client' ? { clientId } : {}) },
      );
      setEmail('');
      setClientId('');
      if (created.password) setShown({ label: `Password of ${created.user.email}`, value: created.password });
      await loadUsers(tenant.id);
    });
  };

  return (
    <section className="card" aria-labelledby="people-title">
      <h2 id="people-title">Tenants and people</h2>
      <div role="alert" className={error ? 'notice notice-error' : undefined}>
        {error}
      </div>
      {shown ? (
        <div className="notice notice-info" data-shown-once>
          <div>{shown.label}, shown once (only a hash is kept):</div>
          <input aria-label={shown.label} type="text" readOnly value={shown.value} onFocus={(e) => e.target.select()} />
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => setShown(null)}>
            I have stored it
          </button>
        </div>
      ) : null}
      <form className="inline-form" onSubmit={createTenant}>
        <TextField id="new-tenant" label="New tenant" value={tenantName} onChange={setTenantName} />
        <button type="submit" className="btn btn-secondary" disabled={busy}>
          Create tenant
        </button>
      </form>
      {tenant ? (
        <>
          <h3>People of {tenant.name}</h3>
          <table className="table">
            <thead>
              <tr>
                <th>Email</th>
                <th>Role</th>
                <th>Client</th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <tr key={user.id} data-user={user.email}>
                  <td>{user.email}</td>
                  <td>{user.role}</td>
                  <td>{user.clientId ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <form className="inline-form" onSubmit={addUser}>
            <TextField id="new-user-email" label="Email" type="email" value={email} onChange={setEmail} />
            <div className="field">
              <label className="field-label" htmlFor="new-user-role">
                Role
              </label>
              <select id="new-user-role" value={role} onChange={(e) => setRole(e.target.value as UserRole)}>
                {USER_ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r === 'client' ? 'client (client portal)' : r}
                  </option>
                ))}
              </select>
            </div>
            {role === 'client' ? (
              <TextField id="new-user-client" label="Client id" value={clientId} onChange={setClientId} />
            ) : null}
            <button type="submit" className="btn btn-secondary" disabled={busy}>
              Add user
            </button>
          </form>
        </>
      ) : (
        <p className="muted">Choose a tenant above to see and add its people.</p>
      )}
    </section>
  );
}
