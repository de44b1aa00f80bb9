/**
 * The web UI's door to installs (`/ui/api/*`): extensions list, install with
 * consent, enable / disable, uninstall, settings (view, save, reset) and
 * recent logs. Tenant and role come from the session only; install ids from
 * the URL are looked up inside the session's tenant, so another tenant's id
 * is a plain 404. Every rule and every write lives in the install service;
 * the response shapes are `@alga-psa/protocol`'s, which the React app reads.
 *
 * Secret values travel browser → server only; responses carry metadata
 * ({key, set, version, updatedAt, updatedBy}), never values or ciphertexts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  EnabledChangeSchema,
  InstallRequestSchema,
  EgressGrantsSchema,
  SaveSettingsRequestSchema,
  customKeysAllowed,
  type AuditPage,
  type Consent,
  type EnabledState,
  type ExtensionUiInfo,
  type ExtensionList,
  type InstallCreated,
  type InstallStatus,
  type LogsView,
  type Manifest,
  type PortalExtensionList,
  type SettingsGroup,
  type SettingsView,
  type UiSetting,
} from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import type { SessionUser } from '../auth/session.ts';
import {
  installInfo,
  unmetSecrets,
  type Actor,
  type InstallRow,
  type InstallService,
  type InstallSummary,
} from '../installs/service.ts';
import { listExtensions } from '../registry.ts';
import { recentLogs } from '../runner-api/logs.ts';
import { extensionUiUrl } from './ext-ui.ts';
import { requireAdminUser, requireSignedIn, requireUser } from './security.ts';
import { auditPage, auditQuerySchema, type AuditQuery } from '../routes/audit.ts';

export interface WebApiDeps {
  db: Db;
  installs: InstallService;
}

const installParams = Type.Object({ installId: Type.String() });
const extensionParams = Type.Object({ extensionId: Type.String() });

/** How audit rows name the person: `user:<email>`. */
const webActor = (user: SessionUser, request: FastifyRequest): Actor => ({
  tenantId: user.tenantId,
  actor: `user:${user.email}`,
  requestId: request.id,
});

function status(enabled: boolean, missing: string[]): InstallStatus {
  if (!enabled) return 'disabled';
  return missing.length > 0 ? 'needs-setup' : 'active';
}

/** Non-secret settings grouped by category, in manifest order (uncategorised first as "General"). */
export function groupSettings(manifest: Manifest): SettingsGroup[] {
  const groups = new Map<string, UiSetting[]>();
  for (const setting of manifest.settings) {
    if (setting.secret) continue;
    const category = setting.category?.trim() || 'General';
    groups.set(category, [...(groups.get(category) ?? []), setting]);
  }
  return [...groups].map(([category, settings]) => ({ category, settings }));
}

function uiInfo(install: InstallSummary): ExtensionUiInfo | null {
  const url = extensionUiUrl(install.extensionId, install.filesDigest, install.manifest);
  if (!url) return null;
  const hooks = install.manifest.ui?.hooks;
  return {
    url,
    appMenu: hooks?.appMenu?.label.trim() ?? null,
    clientPortalMenu: hooks?.clientPortalMenu?.label.trim() ?? null,
  };
}

export function webApiRoutes(plain: FastifyInstance, { db, installs }: WebApiDeps): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const installOf = (user: SessionUser, request: { params: { installId: string } }) =>
    installs.getById(user.tenantId, request.params.installId);

  async function settingsView(user: SessionUser, install: InstallRow): Promise<SettingsView> {
    const state = await installs.state(install);
    const bySecretKey = new Map(install.manifest.settings.filter((s) => s.secret).map((s) => [s.key, s]));
    return {
      install: {
        ...installInfo(install),
        publisher: install.manifest.publisher,
        description: install.manifest.description ?? null,
        status: status(install.enabled, state.missingSecrets),
      },
      canEdit: user.role === 'admin',
      groups: groupSettings(install.manifest),
      config: state.config,
      configVersion: state.configVersion,
      secrets: state.secrets.map((secret) => {
        const setting = bySecretKey.get(secret.key);
        return {
          ...secret,
          label: setting?.label ?? secret.key,
          description: setting?.description ?? null,
          required: setting?.required ?? false,
          declared: Boolean(setting),
          withheld: state.undeliveredSecrets.includes(secret.key),
          type: setting?.type ?? 'string',
        };
      }),
      secretsVersion: install.secretsVersion,
      missingSecrets: state.missingSecrets,
      customKeys: customKeysAllowed(install.manifest),
      allowedHosts: install.manifest.allowedHosts,
    };
  }

  /** An admin's change to an install's settings, answered with the settings as they now are. */
  async function changeSettings(
    request: FastifyRequest & { params: { installId: string } },
    change: (actor: Actor, install: InstallRow) => Promise<void>,
  ): Promise<SettingsView> {
    const user = requireAdminUser(request);
    await change(webActor(user, request), await installOf(user, request));
    return settingsView(user, await installOf(user, request));
  }

  app.get('/ui/api/extensions', async (request): Promise<ExtensionList> => {
    const user = requireUser(request);
    const [installed, published] = await Promise.all([installs.list(user.tenantId), listExtensions(db)]);
    const installedIds = new Set(installed.map((install) => install.extensionId));
    return {
      role: user.role,
      installed: installed.map((install) => {
        const missing = unmetSecrets(install.manifest, install.secretsSet, install.egressAtSet);
        return {
          id: install.id,
          extensionId: install.extensionId,
          publisher: install.manifest.publisher,
          description: install.manifest.description ?? null,
          version: install.version,
          enabled: install.enabled,
          status: status(install.enabled, missing),
          missingSecrets: missing,
          ui: uiInfo(install),
        };
      }),
      available: published.flatMap((extension) =>
        installedIds.has(extension.id) || extension.latestVersion === null
          ? []
          : [
              {
                extensionId: extension.id,
                publisher: extension.publisher,
                version: extension.latestVersion,
                description: extension.description,
              },
            ],
      ),
    };
  });

  /**
   * The client portal's menu: enabled installs whose UI declares
   * `ui.hooks.clientPortalMenu`, and nothing else about them (no status,
   * settings or versions). The one extensions route a client-portal user may read.
   */
  app.get('/ui/api/portal/extensions', async (request): Promise<PortalExtensionList> => {
    const user = requireSignedIn(request);
    const installed = await installs.list(user.tenantId);
    return {
      extensions: installed.flatMap((install) => {
        const ui = install.enabled ? uiInfo(install) : null;
        return ui?.clientPortalMenu
          ? [{ id: install.id, extensionId: install.extensionId, label: ui.clientPortalMenu, url: ui.url }]
          : [];
      }),
    };
  });

  /** Step 1 of install: what the person is asked to consent to. */
  app.get(
    '/ui/api/extensions/:extensionId/consent',
    { schema: { params: extensionParams } },
    async (request): Promise<Consent> => {
      requireAdminUser(request);
      return installs.consent(request.params.extensionId);
    },
  );

  /** Step 2: install, only if the consent covers exactly what the manifest asks for. */
  app.post('/ui/api/installs', { schema: { body: InstallRequestSchema } }, async (request, reply) => {
    const user = requireAdminUser(request);
    const install = await installs.installWithConsent(webActor(user, request), request.body);
    return reply.code(201).send({ id: install.id } satisfies InstallCreated);
  });

  app.put(
    '/ui/api/installs/:installId/enabled',
    { schema: { params: installParams, body: EnabledChangeSchema } },
    async (request): Promise<EnabledState> => {
      const user = requireAdminUser(request);
      const install = await installOf(user, request);
      await installs.setEnabled(webActor(user, request), install, request.body.enabled);
      return { id: install.id, enabled: request.body.enabled };
    },
  );

  app.delete('/ui/api/installs/:installId', { schema: { params: installParams } }, async (request, reply) => {
    const user = requireAdminUser(request);
    await installs.uninstall(webActor(user, request), await installOf(user, request));
    return reply.code(204).send();
  });

  app.get(
    '/ui/api/installs/:installId/settings',
    { schema: { params: installParams } },
    async (request): Promise<SettingsView> => {
      const user = requireUser(request);
      return settingsView(user, await installOf(user, request));
    },
  );

  app.put(
    '/ui/api/installs/:installId/settings',
    { schema: { params: installParams, body: SaveSettingsRequestSchema } },
    async (request) => changeSettings(request, (actor, install) => installs.saveSettings(actor, install, request.body)),
  );

  app.put(
    '/ui/api/installs/:installId/egress',
    { schema: { params: installParams, body: EgressGrantsSchema } },
    async (request) =>
      changeSettings(request, async (actor, install) => {
        await installs.setEgressGrants(actor, install, request.body.hosts);
      }),
  );

  app.post('/ui/api/installs/:installId/reset', { schema: { params: installParams } }, async (request) =>
    changeSettings(request, (actor, install) => installs.reset(actor, install)),
  );

  app.get<{ Params: { installId: string }; Querystring: AuditQuery }>(
    '/ui/api/installs/:installId/audit',
    { schema: { params: installParams, querystring: auditQuerySchema } },
    async (request): Promise<AuditPage> => {
      const user = requireUser(request);
      // Resolve the install first so a viewer probing ids still gets 404 for foreign ones.
      const install = await installOf(user, request);
      requireAdminUser(request);
      return auditPage(db, user.tenantId, install.id, request.query);
    },
  );

  app.get(
    '/ui/api/installs/:installId/logs',
    { schema: { params: installParams } },
    async (request): Promise<LogsView> => {
      const user = requireUser(request);
      // Resolve the install first so a viewer probing ids still gets 404 for foreign ones.
      const install = await installOf(user, request);
      requireAdminUser(request);
      return { available: true, entries: await recentLogs(db, install.id) };
    },
  );
}
