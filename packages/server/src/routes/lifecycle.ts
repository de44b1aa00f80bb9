/**
 * Install lifecycle beyond create/upgrade/uninstall: enable, disable and
 * reset. Each change is one transaction with one audit row, and drops the
 * gateway's cached view so the next call sees it.
 */
import type { FastifyInstance } from 'fastify';
import { settingsDefaults } from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import { principalOf } from '../auth/plugin.ts';
import { audit, findInstall, loadConfig } from '../data/installs.ts';
import { NOT_INSTALLED, describeInstall } from './installs.ts';

export interface LifecycleRouteDeps {
  db: Db;
  invalidate(tenantId: string, extensionId: string): void;
}

type Params = { Params: { extensionId: string } };

export function lifecycleRoutes(app: FastifyInstance, deps: LifecycleRouteDeps): void {
  const { db } = deps;

  for (const enabled of [true, false]) {
    const action = enabled ? 'enable' : 'disable';
    app.post<Params>(`/api/v1/installs/:extensionId/${action}`, async (request) => {
      const principal = principalOf(request);
      const { extensionId } = request.params;
      await db.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: string; was: boolean }>(
          `UPDATE installs i SET enabled = $3, updated_at = now()
             FROM installs old WHERE old.id = i.id AND i.tenant_id = $1 AND i.extension_id = $2
           RETURNING i.id, old.enabled AS was`,
          [principal.tenantId, extensionId, enabled],
        );
        const row = rows[0];
        if (!row) throw NOT_INSTALLED(extensionId);
        // Repeating an enable or disable changes nothing, so it leaves no audit row.
        if (row.was === enabled) return;
        await audit(tx, {
          actor: principal.actor,
          tenantId: principal.tenantId,
          installId: row.id,
          action: `install.${action}`,
          requestId: request.id,
        });
      });
      deps.invalidate(principal.tenantId, extensionId);
      return describeInstall(db, principal.tenantId, extensionId);
    });
  }

  /**
   * Reset to defaults: config back to the manifest's defaults AND every
   * secret cleared (the reference host's reset did neither). Both versions
   * bump even when nothing differed, so runners drop whatever they cached.
   */
  app.post<Params>('/api/v1/installs/:extensionId/reset', async (request) => {
    const principal = principalOf(request);
    const { extensionId } = request.params;
    const install = await findInstall(db, principal.tenantId, extensionId);
    if (!install) throw NOT_INSTALLED(extensionId);
    const defaults = settingsDefaults(install.manifest);
    await db.transaction(async (tx) => {
      const previous = await loadConfig(tx, install.id);
      const configKeys = [...new Set([...Object.keys(previous.config), ...Object.keys(defaults)])].filter(
        (key) => JSON.stringify(previous.config[key]) !== JSON.stringify(defaults[key as keyof typeof defaults]),
      );
      const { rows: config } = await tx.query<{ version: number }>(
        `INSERT INTO install_config (install_id, config, version, updated_by) VALUES ($1, $2::jsonb, 1, $3)
         ON CONFLICT (install_id) DO UPDATE
           SET config = EXCLUDED.config, version = install_config.version + 1, updated_at = now(), updated_by = EXCLUDED.updated_by
         RETURNING version`,
        [install.id, JSON.stringify(defaults), principal.actor],
      );
      const { rows: cleared } = await tx.query<{ key: string }>(
        'DELETE FROM install_secrets WHERE install_id = $1 RETURNING key',
        [install.id],
      );
      await tx.query('UPDATE installs SET secrets_version = secrets_version + 1, updated_at = now() WHERE id = $1', [
        install.id,
      ]);
      await audit(tx, {
        actor: principal.actor,
        tenantId: principal.tenantId,
        installId: install.id,
        action: 'install.reset',
        keyNames: [...new Set([...configKeys, ...cleared.map((row) => row.key)])].sort(),
        version: config[0]!.version,
        requestId: request.id,
      });
    });
    deps.invalidate(principal.tenantId, extensionId);
    return describeInstall(db, principal.tenantId, extensionId);
  });
}
