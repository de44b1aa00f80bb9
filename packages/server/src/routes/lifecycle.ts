/**
 * The API-key door to the install lifecycle beyond create/upgrade/uninstall:
 * enable, disable and reset. Each answers with the install as it now is.
 */
import type { FastifyInstance } from 'fastify';
import type { InstallService } from '../installs/service.ts';
import { apiActor, describeInstall, installOf, type ExtensionParams } from './installs.ts';

export function lifecycleRoutes(app: FastifyInstance, { installs }: { installs: InstallService }): void {
  for (const enabled of [true, false]) {
    app.post<ExtensionParams>(`/api/v1/installs/:extensionId/${enabled ? 'enable' : 'disable'}`, async (request) => {
      await installs.setEnabled(apiActor(request), await installOf(installs, request), enabled);
      return describeInstall(installs, await installOf(installs, request));
    });
  }

  app.post<ExtensionParams>('/api/v1/installs/:extensionId/reset', async (request) => {
    await installs.reset(apiActor(request), await installOf(installs, request));
    return describeInstall(installs, await installOf(installs, request));
  });
}
