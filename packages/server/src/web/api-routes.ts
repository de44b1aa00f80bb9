/**
 * The web UI's JSON API: extensions list, install with consent, enable /
 * disable, uninstall, settings (view, save, reset) and recent logs. Tenant and
 * role come from the session only. Install ids from the URL are looked up
 * inside the session's tenant, so another tenant's id is a plain 404.
 *
 * Secret values travel browser → server only; responses carry metadata
 * ({key, set, version, updatedAt, updatedBy}), never values or ciphertexts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  AlgaError,
  DEFAULT_CAPABILITIES,
  secretAad,
  secretKeys,
  validateConfig,
  type Capability,
  type Manifest,
  type SettingDefinition,
} from '@alga-psa/protocol';
import type { Encrypter } from '@alga-psa/transit';
import type { Db } from '../db/index.ts';
import { installView, listSecretMeta, loadConfig, missingSecrets, type InstallRow } from '../data/installs.ts';
import { findVersion } from '../routes/extensions.ts';
import { MAX_SECRET_BYTES } from '../routes/secrets.ts';
import type { SessionUser } from '../auth/session.ts';
import {
  createInstall,
  deleteInstall,
  findInstallById,
  listInstalls,
  recentLogs,
  resetSettings,
  saveSettings,
  setEnabled,
  type Actor,
} from './data.ts';
import { requireAdminUser, requireUser } from './security.ts';

export interface WebApiDeps {
  db: Db;
  encrypter: Encrypter;
  /** Drops the gateway's cached view of an install after a write. */
  invalidate(tenantId: string, extensionId: string): void;
  /** Has the runners load the install's bundle now (best effort). */
  prepare?(tenantId: string, extensionId: string): Promise<void>;
}

/** What each capability lets an extension do, in the words the consent dialog shows. */
export const CAPABILITY_TEXT: Record<Capability, string> = {
  'cap:context.read': 'Read its own install context and configuration',
  'cap:secrets.get': 'Read the secrets you store for it',
  'cap:http.fetch': 'Make outbound HTTPS requests to the hosts it declares',
  'cap:storage.kv': 'Store data for this install',
  'cap:log.emit': 'Write log lines for this install',
  'cap:ui.proxy': 'Call its own server routes from its UI',
  'cap:user.read': 'Read the signed-in user’s name and email',
};

const NOT_FOUND = () => new AlgaError('ALGA_NOT_FOUND', 'No such extension install in this tenant.');

const actorOf = (user: SessionUser, request: FastifyRequest): Actor => ({
  tenantId: user.tenantId,
  actor: `user:${user.email}`,
  requestId: request.id,
});

function status(install: { enabled: boolean }, missing: string[]): 'disabled' | 'needs-setup' | 'active' {
  if (!install.enabled) return 'disabled';
  return missing.length > 0 ? 'needs-setup' : 'active';
}

/** Non-secret settings grouped by category, in manifest order (uncategorised first as "General"). */
export function groupSettings(manifest: Manifest): { category: string; settings: SettingDefinition[] }[] {
  const groups = new Map<string, SettingDefinition[]>();
  for (const setting of manifest.settings) {
    if (setting.secret) continue;
    const category = setting.category?.trim() || 'General';
    groups.set(category, [...(groups.get(category) ?? []), setting]);
  }
  return [...groups].map(([category, settings]) => ({ category, settings }));
}

const saveSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['config'],
    properties: {
      config: { type: 'object' },
      secrets: {
        type: 'object',
        additionalProperties: false,
        properties: {
          set: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 64 },
          clear: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 64 },
        },
      },
    },
  },
} as const;

interface SaveBody {
  config: Record<string, unknown>;
  secrets?: { set?: Record<string, string>; clear?: string[] };
}

export function webApiRoutes(app: FastifyInstance, deps: WebApiDeps): void {
  const { db, encrypter } = deps;

  async function installFor(user: SessionUser, installId: string): Promise<InstallRow> {
    const install = await findInstallById(db, user.tenantId, installId);
    if (!install) throw NOT_FOUND();
    return install;
  }

  async function settingsView(user: SessionUser, install: InstallRow) {
    const [{ config, version }, secrets] = await Promise.all([loadConfig(db, install.id), listSecretMeta(db, install)]);
    const bySecretKey = new Map(install.manifest.settings.filter((s) => s.secret).map((s) => [s.key, s]));
    const missing = missingSecrets(install, secrets);
    return {
      install: {
        ...installView(install),
        publisher: install.manifest.publisher,
        description: install.manifest.description ?? null,
        status: status(install, missing),
      },
      canEdit: user.role === 'admin',
      groups: groupSettings(install.manifest),
      config,
      configVersion: version,
      secrets: secrets.map((secret) => {
        const setting = bySecretKey.get(secret.key);
        return {
          ...secret,
          label: setting?.label ?? secret.key,
          description: setting?.description ?? null,
          required: setting?.required ?? false,
          declared: Boolean(setting),
          type: setting?.type ?? 'string',
        };
      }),
      secretsVersion: install.secretsVersion,
      missingSecrets: missing,
    };
  }

  app.get('/ui/api/extensions', async (request) => {
    const user = requireUser(request);
    const installs = await listInstalls(db, user.tenantId);
    const installed = new Set(installs.map((install) => install.extensionId));
    const { rows } = await db.query<{ id: string; publisher: string }>(
      'SELECT id, publisher FROM extensions ORDER BY id',
    );
    const available = [];
    for (const row of rows) {
      if (installed.has(row.id)) continue;
      const latest = await findVersion(db, row.id);
      if (!latest || 'available' in latest) continue;
      available.push({
        extensionId: row.id,
        publisher: row.publisher,
        version: latest.version,
        description: latest.manifest.description ?? null,
      });
    }
    return {
      role: user.role,
      installed: installs.map((install) => {
        const missing = secretKeys(install.manifest).filter(
          (key) => install.manifest.settings.find((s) => s.key === key)?.required && !install.secretsSet.includes(key),
        );
        return {
          id: install.id,
          extensionId: install.extensionId,
          publisher: install.manifest.publisher,
          description: install.manifest.description ?? null,
          version: install.version,
          enabled: install.enabled,
          status: status(install, missing),
          missingSecrets: missing,
        };
      }),
      available,
    };
  });

  /** Step 1 of install: what the person is asked to consent to. */
  app.get<{ Params: { extensionId: string } }>('/ui/api/extensions/:extensionId/consent', async (request) => {
    requireAdminUser(request);
    const found = await findVersion(db, request.params.extensionId);
    if (!found || 'available' in found) throw new AlgaError('ALGA_NOT_FOUND', 'No such extension is published.');
    return consentView(found);
  });

  /** Step 2: install, only if the consent covers exactly what the manifest asks for. */
  app.post<{ Body: { extensionId: string; version: string; consent: string[] } }>(
    '/ui/api/installs',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['extensionId', 'version', 'consent'],
          properties: {
            extensionId: { type: 'string', minLength: 1, maxLength: 63 },
            version: { type: 'string', minLength: 1, maxLength: 256 },
            consent: { type: 'array', items: { type: 'string' }, maxItems: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const user = requireAdminUser(request);
      const { extensionId, version, consent } = request.body;
      const found = await findVersion(db, extensionId, version);
      if (!found || 'available' in found)
        throw new AlgaError('ALGA_NOT_FOUND', 'No such extension version is published.');
      const required = consentView(found).capabilities.map((cap) => cap.id);
      const missing = required.filter((cap) => !consent.includes(cap));
      if (missing.length > 0) {
        throw new AlgaError(
          'ALGA_VALIDATION_FAILED',
          `Consent is missing for: ${missing.join(', ')}. Review the requested access and confirm again.`,
          { details: { consentRequired: required } },
        );
      }
      const installId = await createInstall(db, actorOf(user, request), found);
      if (!installId)
        throw new AlgaError('ALGA_VERSION_CONFLICT', `${extensionId} is already installed in this tenant.`);
      deps.invalidate(user.tenantId, extensionId);
      await deps.prepare?.(user.tenantId, extensionId);
      return reply.code(201).send({ id: installId });
    },
  );

  app.put<{ Params: { installId: string }; Body: { enabled: boolean } }>(
    '/ui/api/installs/:installId/enabled',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['enabled'],
          properties: { enabled: { type: 'boolean' } },
        },
      },
    },
    async (request) => {
      const user = requireAdminUser(request);
      const install = await installFor(user, request.params.installId);
      await setEnabled(db, actorOf(user, request), install, request.body.enabled);
      deps.invalidate(user.tenantId, install.extensionId);
      return { id: install.id, enabled: request.body.enabled };
    },
  );

  app.delete<{ Params: { installId: string } }>('/ui/api/installs/:installId', async (request, reply) => {
    const user = requireAdminUser(request);
    const install = await installFor(user, request.params.installId);
    await deleteInstall(db, actorOf(user, request), install);
    deps.invalidate(user.tenantId, install.extensionId);
    return reply.code(204).send();
  });

  app.get<{ Params: { installId: string } }>('/ui/api/installs/:installId/settings', async (request) => {
    const user = requireUser(request);
    return settingsView(user, await installFor(user, request.params.installId));
  });

  app.put<{ Params: { installId: string }; Body: SaveBody }>(
    '/ui/api/installs/:installId/settings',
    { schema: saveSchema },
    async (request) => {
      const user = requireAdminUser(request);
      const install = await installFor(user, request.params.installId);
      const { config } = request.body;
      const toSet = Object.entries(request.body.secrets?.set ?? {});
      const toClear = [...new Set(request.body.secrets?.clear ?? [])];

      // Everything is validated before anything is written.
      const errors = validateConfig(install.manifest, config);
      const declared = secretKeys(install.manifest);
      const stored = (await listSecretMeta(db, install)).filter((s) => s.set).map((s) => s.key);
      for (const [key, value] of toSet) {
        const field = `secrets.${key}`;
        if (!declared.includes(key)) errors.push({ field, message: `"${key}" is not a secret of this extension.` });
        else if (value.length === 0)
          errors.push({ field, message: 'Enter a value, or use Clear to remove the secret.' });
        else if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES)
          errors.push({ field, message: `The value is larger than ${MAX_SECRET_BYTES / 1024} KiB.` });
        if (toClear.includes(key)) errors.push({ field, message: 'A secret cannot be replaced and cleared at once.' });
      }
      for (const key of toClear) {
        if (!declared.includes(key) && !stored.includes(key))
          errors.push({ field: `secrets.${key}`, message: `"${key}" is not a secret of this extension.` });
      }
      if (errors.length > 0) {
        throw new AlgaError('ALGA_VALIDATION_FAILED', 'Nothing was saved: fix the highlighted fields and save again.', {
          details: errors,
        });
      }

      // Encrypt before the transaction: if transit fails, nothing at all is written.
      const setSecrets = [];
      for (const [key, value] of toSet) {
        const bytes = Buffer.from(value, 'utf8');
        try {
          setSecrets.push({
            key,
            ciphertext: await encrypter.encrypt(bytes, secretAad(user.tenantId, install.id, key)),
            keyRef: encrypter.keyRef,
          });
        } catch (error) {
          throw new AlgaError(
            'ALGA_TRANSIT_UNAVAILABLE',
            'Secrets could not be encrypted, so nothing was saved; try again later.',
            {
              cause: error,
            },
          );
        } finally {
          bytes.fill(0);
        }
      }
      await saveSettings(db, actorOf(user, request), install, { config, setSecrets, clearSecrets: toClear });
      deps.invalidate(user.tenantId, install.extensionId);
      return settingsView(user, (await findInstallById(db, user.tenantId, install.id)) ?? install);
    },
  );

  app.post<{ Params: { installId: string } }>('/ui/api/installs/:installId/reset', async (request) => {
    const user = requireAdminUser(request);
    const install = await installFor(user, request.params.installId);
    await resetSettings(db, actorOf(user, request), install);
    deps.invalidate(user.tenantId, install.extensionId);
    return settingsView(user, (await findInstallById(db, user.tenantId, install.id)) ?? install);
  });

  app.get<{ Params: { installId: string } }>('/ui/api/installs/:installId/logs', async (request) => {
    const user = requireUser(request);
    // Resolve the install first so a viewer probing ids still gets 404 for foreign ones.
    const install = await installFor(user, request.params.installId);
    requireAdminUser(request);
    return recentLogs(db, install.id);
  });
}

function consentView(found: { version: string; manifest: Manifest }) {
  const ids = [...new Set([...found.manifest.capabilities, ...DEFAULT_CAPABILITIES])].sort();
  return {
    extensionId: found.manifest.name,
    version: found.version,
    publisher: found.manifest.publisher,
    description: found.manifest.description ?? null,
    allowedHosts: found.manifest.allowedHosts,
    capabilities: ids.map((id) => ({ id, description: CAPABILITY_TEXT[id] ?? id })),
  };
}
