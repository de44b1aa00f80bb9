/**
 * The API-key door to an install's secrets: metadata out, values in (one
 * key per request), never a value or ciphertext out.
 */
import type { FastifyInstance } from 'fastify';
import type { InstallService } from '../installs/service.ts';
import { apiActor, installOf, type ExtensionParams } from './installs.ts';

type SecretParams = { Params: { extensionId: string; key: string } };

const putSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['value'],
    // expiresAt: an ISO 8601 time in the future, after which the guest reads `expired`; omitted or null: never.
    properties: { value: { type: 'string' }, expiresAt: { type: ['string', 'null'], maxLength: 64 } },
  },
} as const;

export function secretRoutes(app: FastifyInstance, { installs }: { installs: InstallService }): void {
  app.get<ExtensionParams>('/api/v1/installs/:extensionId/secrets', async (request) => {
    const install = await installOf(installs, request);
    const { secrets, missingSecrets } = await installs.state(install);
    return { secrets, secretsVersion: install.secretsVersion, missingSecrets };
  });

  app.put<SecretParams & { Body: { value: string; expiresAt?: string | null } }>(
    '/api/v1/installs/:extensionId/secrets/:key',
    { schema: putSchema },
    async (request) => {
      const install = await installOf(installs, request);
      const { key } = request.params;
      const { value, expiresAt = null } = request.body;
      const { version, secretsVersion } = await installs.setSecret(apiActor(request), install, key, value, expiresAt);
      // As stored (UTC), as GET …/secrets shows it.
      return { key, set: true, version, secretsVersion, expiresAt: expiresAt && new Date(expiresAt).toISOString() };
    },
  );

  app.delete<SecretParams>('/api/v1/installs/:extensionId/secrets/:key', async (request) => {
    const install = await installOf(installs, request);
    const { key } = request.params;
    return { key, set: false, secretsVersion: await installs.deleteSecret(apiActor(request), install, key) };
  });
}
