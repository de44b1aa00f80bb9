/**
 * Serves the built React app (packages/web/dist): hashed assets under
 * /assets/ with long-lived caching, and index.html for every client-side
 * route (SPA fallback). Only the UI's own paths fall back, so an unknown
 * /api/... path still answers with the JSON 404.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The built UI: shipped inside the published server package as web/, else packages/web/dist in this repository. */
export const DEFAULT_WEB_ROOT = existsSync(path.resolve(here, '../../web/index.html'))
  ? path.resolve(here, '../../web')
  : path.resolve(here, '../../../web/dist');

/** Paths the React router owns: each loads the app, so a reload or a bookmark of any of its pages works. */
export const SPA_ROUTES = ['/', '/signin', '/msp', '/msp/*', '/client-portal', '/client-portal/*', '/operator'];

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .header('cache-control', 'no-cache');
}

export async function registerStatic(app: FastifyInstance, webRoot: string): Promise<void> {
  const indexFile = path.join(webRoot, 'index.html');
  if (!existsSync(indexFile)) {
    // Say what is wrong instead of a bare 404: the API works, the UI was never built.
    for (const url of SPA_ROUTES) {
      app.get(url, async (_request, reply) =>
        pageHeaders(reply)
          .code(503)
          .type('text/html; charset=utf-8')
          .send(
            '<!doctype html><title>Alga</title><p>The web UI is not built. Run <code>npm run build:web</code> and reload.</p>',
          ),
      );
    }
    return;
  }
  await app.register(fastifyStatic, {
    root: path.join(webRoot, 'assets'),
    prefix: '/assets/',
    // File names carry a content hash, so they never change under the same URL.
    immutable: true,
    maxAge: '365d',
    index: false,
  });
  for (const url of SPA_ROUTES) {
    app.get(url, (_request, reply) => pageHeaders(reply).sendFile('index.html', webRoot, { cacheControl: false }));
  }
}
