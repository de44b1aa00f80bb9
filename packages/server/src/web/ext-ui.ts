/**
 * Serves each published version's iframe UI from the bundle store:
 * `GET /ext-ui/:extensionId/:digest/*`, where `digest` is the hex of the
 * version's files digest (over every file of the bundle, UI included), so a
 * URL names exactly one set of bytes and may be cached for a year.
 *
 * The page runs in an opaque origin: the web app frames it with
 * `sandbox="allow-scripts"` (no `allow-same-origin`), and the CSP `sandbox`
 * directive below makes that hold even when the URL is opened on its own. So
 * the page cannot read the host's cookies, storage or DOM, and its requests
 * carry no session; it reaches its backend only through the host page's
 * postMessage bridge (docs/guides/ui-proxy.md, "The bridge"). Why opaque rather than a
 * second origin: docs/security.md.
 *
 * No credentials are read here: an opaque-origin frame sends none with its
 * subresource requests, and UI files are the extension's published code,
 * which holds no secret (the backend keeps those in the runner).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BundleStore } from '@alga-psa/bundle-store';
import { uiEntryPath, type Manifest } from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import { hostHeaderInvalid, uiFileNotFound } from '../errors.ts';
import { UI_PROXY_PREFIX } from '../gateway/index.ts';

export const EXT_UI_PREFIX = '/ext-ui';

const DIGEST_HEX = /^[0-9a-f]{64}$/;
/** Path segments a UI file may have: no empty or dot-leading (`.`, `..`, dotfiles) segment, no backslash. */
const SEGMENT = /^[^./\\][^/\\]*$/;
/** Longest request path below the digest, in characters. */
const MAX_PATH_CHARS = 512;

/** The URL of a version's UI entry, or null when it has no UI (or was published without an archive). */
export function extensionUiUrl(extensionId: string, filesDigest: string | null, manifest: Manifest): string | null {
  if (!manifest.ui || !filesDigest?.startsWith('sha256:')) return null;
  const entry = uiEntryPath(manifest.ui.entry).split('/').map(encodeURIComponent).join('/');
  return `${EXT_UI_PREFIX}/${encodeURIComponent(extensionId)}/${filesDigest.slice('sha256:'.length)}/${entry}`;
}

/** A Host header the policy may name: a DNS name or IPv4 address, or a bracketed IPv6 one, with a port. */
const HOST_HEADER = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * Only the page's own files and its own proxy path: path-restricted sources
 * keep one extension's page from loading another's scripts from this origin.
 * Scheme-less sources take the page's scheme, so the header is right behind
 * a TLS-terminating proxy too.
 */
export function extensionUiCsp(host: string, extensionId: string, digest: string): string {
  const own = `${host}${EXT_UI_PREFIX}/${encodeURIComponent(extensionId)}/${digest}/`;
  const proxy = `${host}${UI_PROXY_PREFIX}/${encodeURIComponent(extensionId)}/`;
  return [
    "default-src 'none'",
    `script-src ${own}`,
    // Inline styles too: the reference host's UIs ship a <style> block, and in an opaque page whose
    // other loads are limited to its folder a stylesheet can neither run code nor send data out.
    `style-src ${own} 'unsafe-inline'`,
    `img-src ${own} data:`,
    `font-src ${own}`,
    `media-src ${own}`,
    `connect-src ${proxy}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    // Only the host's own pages may frame it.
    "frame-ancestors 'self'",
    // Opaque origin even when opened directly, and nothing beyond scripts.
    'sandbox allow-scripts',
  ].join('; ');
}

interface UiFileRow {
  path: string;
  content_hash: string;
  content_type: string;
  manifest: Manifest;
}

export function extensionUiRoutes(app: FastifyInstance, deps: { db: Db; bundles: BundleStore }): void {
  const serve = async (
    request: FastifyRequest<{ Params: { extensionId: string; digest: string; '*'?: string } }>,
    reply: FastifyReply,
  ) => {
    const { extensionId, digest } = request.params;
    const rest = request.params['*'] ?? '';
    const notFound = () => {
      throw uiFileNotFound();
    };
    if (!DIGEST_HEX.test(digest) || rest.length > MAX_PATH_CHARS) return notFound();
    // The policy names the page's own origin; a Host that is not one would write its own policy.
    if (!HOST_HEADER.test(request.host)) throw hostHeaderInvalid();
    const segments = rest === '' ? [] : rest.split('/');
    // A trailing slash asks for the folder: the SPA fallback answers it.
    if (segments.at(-1) === '') segments.pop();
    if (!segments.every((segment) => SEGMENT.test(segment))) return notFound();
    const wanted = segments.join('/');

    const { rows: versions } = await deps.db.query<{ version: string; manifest: Manifest }>(
      'SELECT version, manifest FROM extension_versions WHERE extension_id = $1 AND files_digest = $2',
      [extensionId, `sha256:${digest}`],
    );
    const version = versions[0];
    if (!version?.manifest.ui) return notFound();
    const entry = uiEntryPath(version.manifest.ui.entry);
    const { rows } = await deps.db.query<Omit<UiFileRow, 'manifest'>>(
      `SELECT path, content_hash, content_type FROM extension_ui_files
        WHERE extension_id = $1 AND version = $2 AND path = ANY($3::text[])`,
      [extensionId, version.version, [wanted, entry]],
    );
    const exact = rows.find((row) => row.path === wanted);
    // SPA fallback: a client-side route (no file extension) gets the entry page; a missing asset stays a 404.
    const lastSegment = segments.at(-1) ?? '';
    const file = exact ?? (lastSegment.includes('.') ? undefined : rows.find((row) => row.path === entry));
    if (!file) return notFound();
    const bytes = await deps.bundles.get(file.content_hash);
    if (!bytes) {
      request.log.error({ extensionId, path: file.path }, 'ui file missing from the bundle store');
      return notFound();
    }
    return (
      reply
        .header('content-type', file.content_type)
        .header('content-security-policy', extensionUiCsp(request.host, extensionId, digest))
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        // An opaque-origin page loads `type="module"` scripts in CORS mode with `Origin: null`.
        // These are public files fetched without credentials, so `*` opens nothing: no cookie
        // is sent or honoured, and every other route of the server stays without CORS.
        .header('access-control-allow-origin', '*')
        .header('cross-origin-resource-policy', 'cross-origin')
        // The digest names the bytes: the same URL never changes.
        .header('cache-control', 'public, max-age=31536000, immutable')
        // The policy names the Host the page was asked for: a shared cache keeps one copy per host.
        .header('vary', 'Host')
        .send(Buffer.from(bytes))
    );
  };
  // Without the slash, the page's relative asset URLs would resolve one folder up.
  app.get<{ Params: { extensionId: string; digest: string } }>(
    `${EXT_UI_PREFIX}/:extensionId/:digest`,
    (request, reply) => {
      const { extensionId, digest } = request.params;
      if (!DIGEST_HEX.test(digest)) throw uiFileNotFound();
      return reply.redirect(`${EXT_UI_PREFIX}/${encodeURIComponent(extensionId)}/${digest}/`, 308);
    },
  );
  app.get(`${EXT_UI_PREFIX}/:extensionId/:digest/*`, serve);
}
