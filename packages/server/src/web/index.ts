/**
 * The web UI: its JSON API under /ui/api (session cookie + CSRF), and the
 * built React app at / , and extensions' iframe pages at /ext-ui. Registered by server.ts as one encapsulated plugin,
 * so its cookie parser, CSRF hooks and error mapping touch no other route.
 */
import type { FastifyInstance } from 'fastify';
import type { BundleStore } from '@alga-psa/bundle-store';
import type { Db } from '../db/index.ts';
import type { InstallService } from '../installs/service.ts';
import { webApiRoutes } from './api-routes.ts';
import { extensionUiRoutes } from './ext-ui.ts';
import { registerWebSecurity, type WebSecurityOptions } from './security.ts';
import { sessionRoutes } from './session-routes.ts';
import { DEFAULT_WEB_ROOT, registerStatic } from './static.ts';

export interface WebUiOptions extends WebSecurityOptions {
  /** The Vite build output. Default packages/web/dist. */
  webRoot?: string;
}

export interface WebUiDeps {
  db: Db;
  installs: InstallService;
  /** Where published UI files are kept (by sha256). */
  bundles: BundleStore;
  options?: WebUiOptions | undefined;
}

export async function webUi(app: FastifyInstance, deps: WebUiDeps): Promise<void> {
  const options = deps.options ?? {};
  await app.register(async (api) => {
    await registerWebSecurity(api, deps.db, options);
    sessionRoutes(api, deps.db, options);
    webApiRoutes(api, deps);
  });
  await app.register(async (pages) => registerStatic(pages, options.webRoot ?? DEFAULT_WEB_ROOT));
  // Its own scope: none of the web UI's cookie, CSRF or framing hooks apply to extension pages.
  await app.register(async (extensionPages) => extensionUiRoutes(extensionPages, deps));
}

export type { WebSecurityOptions } from './security.ts';

/** ALGA_WEB_ROOT, ALGA_UI_SECURE_COOKIES=true|false, ALGA_UI_ORIGINS=https://a.example,https://b.example */
export function webOptionsFromEnv(env: NodeJS.ProcessEnv): WebUiOptions {
  const secure = env['ALGA_UI_SECURE_COOKIES'];
  const origins = env['ALGA_UI_ORIGINS']
    ?.split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  return {
    ...(env['ALGA_WEB_ROOT'] ? { webRoot: env['ALGA_WEB_ROOT'] } : {}),
    ...(secure === 'true' || secure === 'false' ? { secureCookies: secure === 'true' } : {}),
    ...(origins && origins.length > 0 ? { allowedOrigins: origins } : {}),
  };
}
