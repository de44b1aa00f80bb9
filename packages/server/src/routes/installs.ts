import type { FastifyInstance } from 'fastify';
import {
  AlgaError,
  DEFAULT_CAPABILITIES,
  isCapability,
  settingsDefaults,
  validateConfig,
  type Manifest,
} from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import { principalOf } from '../auth/plugin.ts';
import { audit, findInstall, installView, listSecretMeta, loadConfig, missingSecrets } from '../data/installs.ts';
import { findVersion } from './extensions.ts';

export interface InstallRouteDeps {
  db: Db;
  /** Drops the gateway's cached view of an install after a write in this process. */
  invalidate(tenantId: string, extensionId: string): void;
  /** Has the runners load the install's bundle now (best effort), so its first request is warm. */
  prepare?(tenantId: string, extensionId: string): Promise<void>;
}

export const NOT_INSTALLED = (extensionId: string) =>
  // Same message whether the extension is unknown, not installed, or installed by another tenant.
  new AlgaError('ALGA_NOT_FOUND', `Extension "${extensionId}" is not installed for this tenant.`);

const installSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['extensionId'],
    properties: {
      extensionId: { type: 'string', minLength: 1, maxLength: 63 },
      version: { type: 'string', minLength: 1, maxLength: 256 },
      grant: { type: 'array', items: { type: 'string' }, maxItems: 64 },
    },
  },
} as const;

const configSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['config'],
    properties: { config: { type: 'object' } },
  },
} as const;

/** Checks a grant against the manifest: every declared capability is required, nothing undeclared is granted. */
function resolveGrant(manifest: Manifest, grant: string[] | undefined): string[] {
  const requested = grant ?? manifest.capabilities;
  const unknown = requested.filter((id) => !isCapability(id));
  if (unknown.length > 0) {
    throw new AlgaError('ALGA_UNKNOWN_CAPABILITY', `Unknown capability id(s): ${unknown.join(', ')}.`, {
      details: { unknown },
    });
  }
  const missing = manifest.capabilities.filter((cap) => !requested.includes(cap));
  if (missing.length > 0) {
    throw new AlgaError(
      'ALGA_VALIDATION_FAILED',
      `The grant is missing capabilities the extension requires: ${missing.join(', ')}. Add them to "grant".`,
      { details: missing.map((cap) => ({ field: 'grant', message: `${cap} is required by the manifest` })) },
    );
  }
  const extra = requested.filter(
    (cap) => !manifest.capabilities.includes(cap as never) && !DEFAULT_CAPABILITIES.includes(cap as never),
  );
  if (extra.length > 0) {
    throw new AlgaError(
      'ALGA_VALIDATION_FAILED',
      `The grant includes capabilities the manifest does not declare: ${extra.join(', ')}. Remove them.`,
      { details: extra.map((cap) => ({ field: 'grant', message: `${cap} is not declared by the manifest` })) },
    );
  }
  return [...new Set([...requested, ...DEFAULT_CAPABILITIES])].sort();
}

/** On upgrade, keep values for settings that still exist and still validate; take new defaults for the rest. */
function carryConfig(manifest: Manifest, previous: Record<string, unknown>): Record<string, unknown> {
  const next: Record<string, unknown> = settingsDefaults(manifest);
  for (const [key, value] of Object.entries(previous)) {
    if (validateConfig({ settings: manifest.settings.filter((s) => s.key === key) }, { [key]: value }).length === 0) {
      next[key] = value;
    }
  }
  return next;
}

export type InstallDescription = Awaited<ReturnType<typeof describeInstall>>;

export async function describeInstall(db: Db, tenantId: string, extensionId: string) {
  const install = await findInstall(db, tenantId, extensionId);
  if (!install) throw NOT_INSTALLED(extensionId);
  const [{ config, version }, secrets] = await Promise.all([loadConfig(db, install.id), listSecretMeta(db, install)]);
  return {
    install: installView(install),
    requestedCapabilities: install.manifest.capabilities,
    config,
    configVersion: version,
    secrets,
    secretsVersion: install.secretsVersion,
    missingSecrets: missingSecrets(install, secrets),
  };
}

export function installRoutes(app: FastifyInstance, deps: InstallRouteDeps): void {
  const { db } = deps;

  const describe = (tenantId: string, extensionId: string) => describeInstall(db, tenantId, extensionId);

  app.post<{ Body: { extensionId: string; version?: string; grant?: string[] } }>(
    '/api/v1/installs',
    { schema: installSchema },
    async (request, reply) => {
      const principal = principalOf(request);
      const { extensionId } = request.body;
      const found = await findVersion(db, extensionId, request.body.version);
      if (!found) throw new AlgaError('ALGA_NOT_FOUND', `No extension "${extensionId}" is published.`);
      if ('available' in found) {
        throw new AlgaError(
          'ALGA_NOT_FOUND',
          `${extensionId} has no version "${request.body.version}"; published: ${found.available.join(', ')}.`,
        );
      }
      const granted = resolveGrant(found.manifest, request.body.grant);

      const created = await db.transaction(async (tx) => {
        const { rows: existing } = await tx.query<{ id: string }>(
          'SELECT id FROM installs WHERE tenant_id = $1 AND extension_id = $2 FOR UPDATE',
          [principal.tenantId, extensionId],
        );
        if (existing[0]) {
          const installId = existing[0].id;
          await tx.query(
            'UPDATE installs SET version = $2, granted_capabilities = $3, updated_at = now() WHERE id = $1',
            [installId, found.version, granted],
          );
          const previous = await loadConfig(tx, installId);
          const next = carryConfig(found.manifest, previous.config);
          let configVersion = previous.version;
          if (JSON.stringify(next) !== JSON.stringify(previous.config)) {
            const { rows } = await tx.query<{ version: number }>(
              `UPDATE install_config SET config = $2::jsonb, version = version + 1, updated_at = now(), updated_by = $3
                WHERE install_id = $1 RETURNING version`,
              [installId, JSON.stringify(next), principal.actor],
            );
            configVersion = rows[0]?.version ?? configVersion;
          }
          await audit(tx, {
            actor: principal.actor,
            tenantId: principal.tenantId,
            installId,
            action: 'install.upgrade',
            version: configVersion,
            requestId: request.id,
          });
          return false;
        }
        const { rows } = await tx.query<{ id: string }>(
          'INSERT INTO installs (tenant_id, extension_id, version, granted_capabilities) VALUES ($1, $2, $3, $4) RETURNING id',
          [principal.tenantId, extensionId, found.version, granted],
        );
        const installId = rows[0]!.id;
        await tx.query(
          'INSERT INTO install_config (install_id, config, version, updated_by) VALUES ($1, $2::jsonb, 1, $3)',
          [installId, JSON.stringify(settingsDefaults(found.manifest)), principal.actor],
        );
        await audit(tx, {
          actor: principal.actor,
          tenantId: principal.tenantId,
          installId,
          action: 'install.create',
          version: 1,
          requestId: request.id,
        });
        return true;
      });
      deps.invalidate(principal.tenantId, extensionId);
      await deps.prepare?.(principal.tenantId, extensionId);
      return reply.code(created ? 201 : 200).send(await describe(principal.tenantId, extensionId));
    },
  );

  app.get('/api/v1/installs', async (request) => {
    const principal = principalOf(request);
    const { rows } = await db.query<{ extension_id: string; version: string; enabled: boolean; created_at: Date }>(
      'SELECT extension_id, version, enabled, created_at FROM installs WHERE tenant_id = $1 ORDER BY extension_id',
      [principal.tenantId],
    );
    return {
      installs: rows.map((row) => ({
        extensionId: row.extension_id,
        version: row.version,
        enabled: row.enabled,
        createdAt: row.created_at.toISOString(),
      })),
    };
  });

  app.get<{ Params: { extensionId: string } }>('/api/v1/installs/:extensionId', async (request) =>
    describe(principalOf(request).tenantId, request.params.extensionId),
  );

  app.delete<{ Params: { extensionId: string } }>('/api/v1/installs/:extensionId', async (request, reply) => {
    const principal = principalOf(request);
    const { extensionId } = request.params;
    await db.transaction(async (tx) => {
      // Cascades to config, secrets and storage: uninstalling forgets the install's data.
      const { rows } = await tx.query<{ id: string }>(
        'DELETE FROM installs WHERE tenant_id = $1 AND extension_id = $2 RETURNING id',
        [principal.tenantId, extensionId],
      );
      if (!rows[0]) throw NOT_INSTALLED(extensionId);
      await audit(tx, {
        actor: principal.actor,
        tenantId: principal.tenantId,
        installId: rows[0].id,
        action: 'install.delete',
        requestId: request.id,
      });
    });
    deps.invalidate(principal.tenantId, extensionId);
    return reply.code(204).send();
  });

  app.put<{ Params: { extensionId: string }; Body: { config: Record<string, unknown> } }>(
    '/api/v1/installs/:extensionId/config',
    { schema: configSchema },
    async (request) => {
      const principal = principalOf(request);
      const { extensionId } = request.params;
      const install = await findInstall(db, principal.tenantId, extensionId);
      if (!install) throw NOT_INSTALLED(extensionId);
      const config = request.body.config;
      const errors = validateConfig(install.manifest, config);
      if (errors.length > 0) {
        throw new AlgaError(
          'ALGA_VALIDATION_FAILED',
          `The config is invalid: ${errors.map((e) => e.message).join(' ')}`,
          { details: errors },
        );
      }
      const version = await db.transaction(async (tx) => {
        const previous = await loadConfig(tx, install.id);
        const changed = [...new Set([...Object.keys(previous.config), ...Object.keys(config)])].filter(
          (key) => JSON.stringify(previous.config[key]) !== JSON.stringify(config[key]),
        );
        const { rows } = await tx.query<{ version: number }>(
          `INSERT INTO install_config (install_id, config, version, updated_by) VALUES ($1, $2::jsonb, 1, $3)
           ON CONFLICT (install_id) DO UPDATE
             SET config = EXCLUDED.config, version = install_config.version + 1, updated_at = now(), updated_by = EXCLUDED.updated_by
           RETURNING version`,
          [install.id, JSON.stringify(config), principal.actor],
        );
        const next = rows[0]!.version;
        await audit(tx, {
          actor: principal.actor,
          tenantId: principal.tenantId,
          installId: install.id,
          action: 'config.update',
          keyNames: changed.sort(),
          version: next,
          requestId: request.id,
        });
        return next;
      });
      deps.invalidate(principal.tenantId, extensionId);
      return { config, configVersion: version };
    },
  );
}
