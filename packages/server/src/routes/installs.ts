/**
 * The API-key door to installs: install or upgrade, list, read, uninstall
 * and replace the config. Tenant and actor come from the API key; every
 * rule and every write lives in the install service.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EgressGrantsSchema } from '@alga-psa/protocol';
import { principalOf } from '../auth/plugin.ts';
import { installInfo, type Actor, type InstallRow, type InstallService } from '../installs/service.ts';

export interface InstallRouteDeps {
  installs: InstallService;
}

export type ExtensionParams = { Params: { extensionId: string } };

const installSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['extensionId'],
    properties: {
      extensionId: { type: 'string', minLength: 1, maxLength: 128 },
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

/** Who acts, for the audit log: the API key's tenant and id. */
export function apiActor(request: FastifyRequest): Actor {
  const principal = principalOf(request);
  return { tenantId: principal.tenantId, actor: principal.actor, requestId: request.id };
}

/** The install named in the URL, within the key's tenant (404 for another tenant's). */
export function installOf(installs: InstallService, request: FastifyRequest<ExtensionParams>): Promise<InstallRow> {
  return installs.get(principalOf(request).tenantId, request.params.extensionId);
}

/** `{install, requestedCapabilities, config, configVersion, secrets, secretsVersion, missingSecrets, undeliveredSecrets}`. */
export async function describeInstall(installs: InstallService, install: InstallRow) {
  const state = await installs.state(install);
  return {
    install: installInfo(install),
    requestedCapabilities: install.manifest.capabilities,
    config: state.config,
    configVersion: state.configVersion,
    secrets: state.secrets,
    secretsVersion: install.secretsVersion,
    missingSecrets: state.missingSecrets,
    // Stored values this version does not declare: kept, never given to it.
    undeliveredSecrets: state.undeliveredSecrets,
  };
}

export function installRoutes(app: FastifyInstance, { installs }: InstallRouteDeps): void {
  app.post<{ Body: { extensionId: string; version?: string; grant?: string[] } }>(
    '/api/v1/installs',
    { schema: installSchema },
    async (request, reply) => {
      const { created, install } = await installs.install(apiActor(request), request.body);
      return reply.code(created ? 201 : 200).send(await describeInstall(installs, install));
    },
  );

  // What installing asks consent for (the CLI prints it before `alga install` grants anything).
  app.get<ExtensionParams & { Querystring: { version?: string } }>(
    '/api/v1/extensions/:extensionId/consent',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { version: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (request) => installs.consent(request.params.extensionId, request.query.version),
  );

  app.get('/api/v1/installs', async (request) => ({
    installs: (await installs.list(principalOf(request).tenantId)).map((install) => ({
      extensionId: install.extensionId,
      version: install.version,
      enabled: install.enabled,
      createdAt: install.createdAt.toISOString(),
    })),
  }));

  app.get<ExtensionParams>('/api/v1/installs/:extensionId', async (request) =>
    describeInstall(installs, await installOf(installs, request)),
  );

  app.delete<ExtensionParams>('/api/v1/installs/:extensionId', async (request, reply) => {
    await installs.uninstall(apiActor(request), await installOf(installs, request));
    return reply.code(204).send();
  });

  app.put<ExtensionParams & { Body: { hosts: string[] } }>(
    '/api/v1/installs/:extensionId/egress',
    { schema: { body: EgressGrantsSchema } },
    async (request) => {
      const install = await installOf(installs, request);
      return { hosts: await installs.setEgressGrants(apiActor(request), install, request.body.hosts) };
    },
  );

  app.put<ExtensionParams & { Body: { config: Record<string, unknown> } }>(
    '/api/v1/installs/:extensionId/config',
    { schema: configSchema },
    async (request) => {
      const install = await installOf(installs, request);
      const saved = await installs.saveConfig(apiActor(request), install, request.body.config);
      return { config: saved.config, configVersion: saved.version };
    },
  );
}
