import { open } from 'node:fs/promises';
import type { Db } from '../db/index.ts';
import { createTenantWithKey } from './api-keys.ts';
import { createDemoUsers } from './session.ts';

export interface BootstrapFile {
  tenantId: string;
  apiKey: string;
  /** Web UI sign-in for admin@demo.local / viewer@demo.local / client@demo.local (see session.ts). */
  adminPassword?: string;
  viewerPassword?: string;
  /** The client-portal user's. */
  clientPassword?: string;
  serverUrl?: string;
}

/**
 * First start: no tenant exists yet, so create tenant "demo" with an admin key
 * and hand the key over through a 0600 file (never stdout or logs). Returns
 * undefined when tenants already exist: the key cannot be recovered later,
 * only the hash is stored.
 */
export async function bootstrapTenant(db: Db, file: string): Promise<BootstrapFile | undefined> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tenants');
  if ((rows[0]?.n ?? 0) > 0) return undefined;
  const { tenantId, apiKey } = await createTenantWithKey(db, { name: 'demo', role: 'admin', keyName: 'bootstrap' });
  const { adminPassword, viewerPassword, clientPassword } = await createDemoUsers(db, tenantId);
  const data: BootstrapFile = { tenantId, apiKey, adminPassword, viewerPassword, clientPassword };
  await writeBootstrapFile(file, data);
  return data;
}

export async function writeBootstrapFile(file: string, data: BootstrapFile): Promise<void> {
  const handle = await open(file, 'w', 0o600);
  try {
    // open() only applies the mode when it creates the file; enforce it on reuse too.
    await handle.chmod(0o600);
    await handle.writeFile(`${JSON.stringify(data, null, 2)}\n`);
  } finally {
    await handle.close();
  }
}
