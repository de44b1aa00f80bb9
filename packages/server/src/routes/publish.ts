/**
 * `POST /api/v1/extensions/publish`: one request, one bundle archive
 * (docs/bundle-format.md). Everything is checked before anything is stored.
 */
import type { FastifyInstance } from 'fastify';
import {
  BundleArchiveError,
  DEFAULT_BUNDLE_LIMITS,
  REFERENCE_BUNDLE_CONTENT_TYPES,
  type BundleLimits,
  type PublishedVersion,
  uiEntryPath,
} from '@alga-psa/protocol';
import { contentHashOf, type BundleStore } from '@alga-psa/bundle-store';
import type { Db } from '../db/index.ts';
import { principalOf } from '../auth/plugin.ts';
import type { Principal } from '../auth/api-keys.ts';
import { archiveBodyMissing, manifestNotJson, metadataHashMismatch } from '../errors.ts';
import { readBundleArchive, type BundleContents } from '../publish/archive.ts';
import { filesDigest, parseManifest, publishVersion, type UiFileRecord } from '../publish/publish.ts';
import { SIGNATURE_HEADER, signatureFromHeader, type SigningService } from '../signing/index.ts';

export interface PublishRouteDeps {
  db: Db;
  bundles: BundleStore;
  limits?: Partial<BundleLimits>;
  signing?: SigningService;
}

const UI_CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  ico: 'image/x-icon',
  woff: 'font/woff',
  woff2: 'font/woff2',
  txt: 'text/plain; charset=utf-8',
  map: 'application/json',
  wasm: 'application/wasm',
};

export function uiContentType(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return UI_CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

function parseJson(text: string, what: string, code: 'manifest' | 'metadata'): unknown {
  try {
    return JSON.parse(text);
  } catch {
    if (code === 'manifest') throw manifestNotJson({ file: what });
    throw new BundleArchiveError('bad-metadata', `${what} is not valid JSON; rebuild with \`alga build\`.`);
  }
}

/** metadata.json must describe this very component (and this extension, when it says so). */
function checkMetadata(
  contents: BundleContents & { metadataText: string },
  manifest: { name: string; version: string },
) {
  const metadata = parseJson(contents.metadataText, 'metadata.json', 'metadata');
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new BundleArchiveError('bad-metadata', 'metadata.json must be a JSON object; rebuild with `alga build`.');
  }
  const record = metadata as Record<string, unknown>;
  const actual = contentHashOf(contents.component);
  if (typeof record['contentHash'] !== 'string') {
    throw new BundleArchiveError('bad-metadata', 'metadata.json has no "contentHash"; rebuild with `alga build`.');
  }
  if (record['contentHash'] !== actual) throw metadataHashMismatch({ claimed: record['contentHash'], actual });
  for (const field of ['name', 'version'] as const) {
    if (record[field] !== undefined && record[field] !== manifest[field]) {
      throw new BundleArchiveError(
        'bad-metadata',
        `metadata.json was built for ${field} ${JSON.stringify(record[field])}, but manifest.json says ${JSON.stringify(manifest[field])}; rebuild with \`alga build\`.`,
      );
    }
  }
  return { metadata: record, contentHash: actual };
}

/** Reads, checks and publishes one bundle archive (either layout); `manifestText` replaces the archive's own when given. */
export async function publishArchive(
  deps: PublishRouteDeps,
  principal: Principal,
  archive: Buffer,
  requestId: string,
  limits: BundleLimits,
  manifestText?: string,
  /** The publisher's signature document (`alga-bundle-signature` header), checked against the trust policy. */
  signature?: unknown,
) {
  const contents = await readBundleArchive(archive, limits);
  const manifestJson = parseJson(manifestText ?? contents.manifestText, 'manifest.json', 'manifest');
  const parsed = parseManifest(manifestJson);
  const { manifest } = parsed;
  const notes = contents.skipped.length > 0 ? [...(parsed.notes ?? []), skippedNote(contents.skipped)] : parsed.notes;
  // A reference bundle has no metadata.json: its component is hashed here.
  const { metadata, contentHash } =
    contents.metadataText === undefined
      ? { metadata: { layout: 'reference' } as Record<string, unknown>, contentHash: contentHashOf(contents.component) }
      : checkMetadata({ ...contents, metadataText: contents.metadataText }, manifest);
  // One reading of ui.entry for publish and for serving (uiEntryPath): "ui/index.html" and "index.html" name the same file.
  if (manifest.ui && !contents.ui.has(`ui/${uiEntryPath(manifest.ui.entry)}`)) {
    throw new BundleArchiveError(
      'missing-file',
      `manifest.json names ui.entry "${manifest.ui.entry}", but the archive has no ui/${uiEntryPath(manifest.ui.entry)}.`,
    );
  }
  const uiFiles: UiFileRecord[] = [...contents.ui].map(([path, bytes]) => ({
    path: path.slice('ui/'.length),
    contentHash: contentHashOf(bytes),
    size: bytes.length,
    contentType: uiContentType(path),
  }));
  const files: [string, Uint8Array][] = [
    ['manifest.json', Buffer.from(contents.manifestText)],
    ['component.wasm', contents.component],
    ...(contents.metadataText === undefined
      ? []
      : [['metadata.json', Buffer.from(contents.metadataText)] as [string, Uint8Array]]),
    ...[...contents.wit].map(([path, text]): [string, Uint8Array] => [path, Buffer.from(text)]),
    ...contents.ui,
  ];
  const archiveHash = contentHashOf(archive);
  const result = await publishVersion(
    deps.db,
    principal,
    {
      manifest,
      notes,
      contentHash,
      component: contents.component,
      metadata,
      archive: { contentHash: archiveHash, digest: filesDigest(files), uiFiles },
      signature,
      manifestJson,
      store: async () => {
        await deps.bundles.put(contents.component);
        await deps.bundles.put(archive);
        for (const bytes of contents.ui.values()) await deps.bundles.put(bytes);
      },
    },
    requestId,
    deps.signing,
  );
  return { result, contentHash, archiveHash, uiFiles, manifest };
}

export function publishRoutes(app: FastifyInstance, deps: PublishRouteDeps): void {
  const limits: BundleLimits = { ...DEFAULT_BUNDLE_LIMITS, ...deps.limits };
  // Fastify refuses a Content-Length over the route's limit before reading the body,
  // and stops reading a chunked body once it passes it. No parser-wide limit: it would
  // apply to every route of the scope (a 64 MiB body to a JSON route), not just these.
  app.addContentTypeParser(
    ['application/gzip', 'application/x-gzip', 'application/x-tar+gzip', ...REFERENCE_BUNDLE_CONTENT_TYPES],
    { parseAs: 'buffer' },
    (_request, body, done) => done(null, body),
  );

  app.post('/api/v1/extensions/publish', { bodyLimit: limits.maxArchiveBytes }, async (request, reply) => {
    const principal = principalOf(request);
    const archive = request.body;
    if (!Buffer.isBuffer(archive) || archive.length === 0) throw archiveBodyMissing();
    const signature = signatureFromHeader(request.headers[SIGNATURE_HEADER]);
    const { result, contentHash, archiveHash, uiFiles } = await publishArchive(
      deps,
      principal,
      archive,
      request.id,
      limits,
      undefined,
      signature,
    );
    return reply.code(result.created ? 201 : 200).send({
      extensionId: result.extensionId,
      version: result.version,
      contentHash,
      warnings: result.warnings,
      archiveHash,
      imports: result.imports,
      uiFiles: uiFiles.map((file) => file.path).sort(),
      signedBy: result.signedBy,
    } satisfies PublishedVersion);
  });
}

/** The publish warning for entries of a reference bundle that were not kept. */
function skippedNote(skipped: readonly string[]): string {
  const shown = skipped.slice(0, 5).map((path) => JSON.stringify(path));
  const more = skipped.length > shown.length ? ` and ${skipped.length - shown.length} more` : '';
  return `Left out ${skipped.length} entr${skipped.length === 1 ? 'y' : 'ies'} the reference host skips or never reads (hidden, or outside its layout): ${shown.join(', ')}${more}.`;
}
