/**
 * Reads a bundle archive (docs/bundle-format.md) into memory, refusing
 * anything the format does not allow: this platform's `.tgz`, or the
 * reference host's `bundle.tar.zst` (told apart by their magic bytes). Nothing
 * is written to disk: entries are checked as strings, so a hostile path never
 * meets a filesystem.
 *
 * Decompression is bounded twice: zlib stops at `maxUncompressedBytes`
 * (so a bomb cannot exhaust memory) and the ratio is checked afterwards.
 */
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, zstdDecompress as zstdCallback } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import {
  BUNDLE_COMPONENT,
  BUNDLE_MANIFEST,
  BUNDLE_METADATA,
  BUNDLE_REQUIRED_FILES,
  BundleArchiveError,
  DEFAULT_BUNDLE_LIMITS,
  REFERENCE_BUNDLE_COMPONENTS,
  checkBundleEntry,
  checkEntrySafety,
  isHiddenBundlePath,
  isReferenceBundlePath,
  REFERENCE_SEGMENT_RE,
  type BundleLimits,
} from '@alga-psa/protocol';

const gunzip = promisify(gunzipCallback);
const unzstd = promisify(zstdCallback);

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Whether the bytes start like a zstd frame (the reference host's `bundle.tar.zst`). */
export function isZstd(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ZSTD_MAGIC.every((byte, index) => bytes[index] === byte);
}

export interface BundleContents {
  /** `alga`: this platform's `.tgz`; `reference`: the reference host's `bundle.tar.zst`. */
  layout: 'alga' | 'reference';
  manifestText: string;
  component: Buffer;
  /** Undefined for a reference bundle, which has no metadata.json. */
  metadataText: string | undefined;
  /** `wit/...` path → text. */
  wit: Map<string, string>;
  /** `ui/...` path → bytes. */
  ui: Map<string, Buffer>;
  /** Uncompressed bytes of every file. */
  totalBytes: number;
  /** Entries of a reference bundle left out, as the reference host leaves them: hidden, or outside its layout. */
  skipped: string[];
}

export async function readBundleArchive(
  archive: Uint8Array,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<BundleContents> {
  if (archive.length > limits.maxArchiveBytes) {
    throw new BundleArchiveError('too-large', `The archive is larger than ${mib(limits.maxArchiveBytes)}.`);
  }
  if (isZstd(archive)) return readReferenceBundle(archive, limits);
  if (archive.length < 18 || archive[0] !== 0x1f || archive[1] !== 0x8b) {
    throw new BundleArchiveError(
      'not-gzip',
      "The body is neither a gzip nor a zstd archive; send the .tgz that `alga pack` writes (Content-Type: application/gzip) or the reference host's bundle.tar.zst (application/zstd).",
    );
  }
  const tarBytes = await inflate(archive, limits, gunzip, 'gzip');
  const files = await untar(tarBytes, limits, 'alga');

  const missing = BUNDLE_REQUIRED_FILES.filter((name) => !files.has(name));
  if (missing.length > 0) {
    throw new BundleArchiveError(
      'missing-file',
      `The archive has no ${missing.join(', ')} at its root; \`alga build\` then \`alga pack\` produce all three.`,
    );
  }
  const wit = new Map<string, string>();
  const ui = new Map<string, Buffer>();
  let totalBytes = 0;
  for (const [path, bytes] of files) {
    totalBytes += bytes.length;
    if (path.startsWith('wit/')) wit.set(path, bytes.toString('utf8'));
    else if (path.startsWith('ui/')) ui.set(path, bytes);
  }
  return {
    layout: 'alga',
    manifestText: files.get(BUNDLE_MANIFEST)!.toString('utf8'),
    component: files.get(BUNDLE_COMPONENT)!,
    metadataText: files.get(BUNDLE_METADATA)!.toString('utf8'),
    wit,
    ui,
    totalBytes,
    skipped: [],
  };
}

/**
 * The reference layout: `manifest.json` at the root or one folder down (then
 * every entry sits in that folder), the component at `dist/main.wasm` or
 * `artifacts/component/component.wasm` (its pack writes both), `ui/**`, and
 * the other files its pack may add, which are kept out of what is served.
 */
async function readReferenceBundle(archive: Uint8Array, limits: BundleLimits): Promise<BundleContents> {
  const tarBytes = await inflate(archive, limits, unzstd, 'zstd');
  const skipped: string[] = [];
  const files = await untar(tarBytes, limits, 'reference', skipped);
  const manifests = [...files.keys()].filter((path) => /^(?:[^/]+\/)?manifest\.json$/.test(path));
  const root = manifests.includes(BUNDLE_MANIFEST)
    ? BUNDLE_MANIFEST
    : manifests.length === 1
      ? manifests[0]
      : undefined;
  if (!root) {
    throw new BundleArchiveError(
      'missing-file',
      manifests.length > 1
        ? `The archive has manifest.json in several folders (${manifests.join(', ')}); pack one extension.`
        : 'The archive has no manifest.json at its root or one folder down.',
    );
  }
  const prefix = root.slice(0, -BUNDLE_MANIFEST.length);
  const inside = new Map<string, Buffer>();
  for (const [path, bytes] of files) {
    const relative = path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
    // The reference host writes what it does not know and never reads it; here it is not kept.
    if (relative === undefined || !isReferenceBundlePath(relative)) {
      skipped.push(path);
      continue;
    }
    inside.set(relative, bytes);
  }
  const found = REFERENCE_BUNDLE_COMPONENTS.filter((name) => inside.has(name));
  if (found.length === 0) {
    throw new BundleArchiveError(
      'missing-file',
      `The archive has no component: expected ${REFERENCE_BUNDLE_COMPONENTS.join(' or ')}.`,
    );
  }
  const component = inside.get(found[0]!)!;
  if (found.length > 1 && !inside.get(found[1]!)!.equals(component)) {
    throw new BundleArchiveError(
      'unexpected-entry',
      `${REFERENCE_BUNDLE_COMPONENTS.join(' and ')} differ; a bundle holds one component.`,
    );
  }
  const wit = new Map<string, string>();
  const ui = new Map<string, Buffer>();
  let totalBytes = 0;
  for (const [path, bytes] of inside) {
    totalBytes += bytes.length;
    if (path.startsWith('wit/') && path.endsWith('.wit')) wit.set(path, bytes.toString('utf8'));
    else if (path.startsWith('ui/')) ui.set(path, bytes);
  }
  return {
    layout: 'reference',
    manifestText: inside.get(BUNDLE_MANIFEST)!.toString('utf8'),
    component,
    metadataText: undefined,
    wit,
    ui,
    totalBytes,
    skipped,
  };
}

async function inflate(
  archive: Uint8Array,
  limits: BundleLimits,
  decompress: (bytes: Uint8Array, options: { maxOutputLength: number }) => Promise<Buffer>,
  format: 'gzip' | 'zstd',
): Promise<Buffer> {
  let tarBytes: Buffer;
  try {
    tarBytes = await decompress(archive, { maxOutputLength: limits.maxUncompressedBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new BundleArchiveError(
        'bomb',
        `The archive expands to more than ${mib(limits.maxUncompressedBytes)}; refusing it.`,
        { cause: error },
      );
    }
    throw new BundleArchiveError('not-gzip', `The archive is not valid ${format} (truncated or corrupt).`, {
      cause: error,
    });
  }
  // tar's parser would transparently unpack a second compression layer, which
  // would bypass the bounds above; a bundle is compressed exactly once.
  if ((tarBytes[0] === 0x1f && tarBytes[1] === 0x8b) || isZstd(tarBytes)) {
    throw new BundleArchiveError('bad-tar', `The archive is compressed twice; compress the tar once.`);
  }
  if (tarBytes.length > limits.ratioFloorBytes && tarBytes.length / archive.length > limits.maxRatio) {
    throw new BundleArchiveError(
      'bomb',
      `The archive expands ${Math.round(tarBytes.length / archive.length)}× (more than ${limits.maxRatio}×); refusing it as a decompression bomb.`,
    );
  }
  return tarBytes;
}

function untar(
  tarBytes: Buffer,
  limits: BundleLimits,
  layout: 'alga' | 'reference',
  skipped: string[] = [],
): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const files = new Map<string, Buffer>();
    const seen = new Set<string>();
    let entries = 0;
    let declaredBytes = 0;
    let failure: BundleArchiveError | undefined;
    // strict: a checksum failure or truncated entry is an error, not a skipped entry.
    const parser = new Parser({ strict: true, gzip: false, brotli: false, zstd: false, maxMetaEntrySize: 64 * 1024 });
    const fail = (error: BundleArchiveError) => {
      if (failure) return;
      failure = error;
      parser.abort(error);
    };
    parser.on('entry', (entry: ReadEntry) => {
      if (failure) return void entry.resume();
      entries += 1;
      if (entries > limits.maxEntries) {
        fail(new BundleArchiveError('too-many-entries', `The archive has more than ${limits.maxEntries} entries.`));
        return void entry.resume();
      }
      // The reference host skips hidden entries (`.DS_Store`, `.gitkeep`) rather than refuse the bundle.
      if (layout === 'reference' && isHiddenBundlePath(entry.path)) {
        skipped.push(entry.path.slice(0, 255));
        return void entry.resume();
      }
      // The reference layout is checked once the manifest's folder is known (readReferenceBundle).
      const check =
        layout === 'alga'
          ? checkBundleEntry(entry.path, entry.type, limits)
          : ((safe) =>
              safe.ok
                ? {
                    ...safe,
                    kind: safe.directory ? 'directory' : /\.c?wasm$/.test(safe.path) ? 'component' : 'file',
                  }
                : safe)(checkEntrySafety(entry.path, entry.type, limits, REFERENCE_SEGMENT_RE));
      if (!check.ok) {
        fail(new BundleArchiveError(check.reason, check.message, { entry: entry.path.slice(0, 255) }));
        return void entry.resume();
      }
      if (check.kind === 'directory') return void entry.resume();
      if (seen.has(check.path)) {
        // A later entry silently replacing an earlier one is how archives hide content.
        fail(
          new BundleArchiveError('duplicate-entry', `"${check.path}" appears twice in the archive.`, {
            entry: check.path,
          }),
        );
        return void entry.resume();
      }
      seen.add(check.path);
      const cap = check.kind === 'component' ? limits.maxComponentBytes : limits.maxFileBytes;
      declaredBytes += entry.size;
      if (entry.size > cap) {
        fail(new BundleArchiveError('too-large', `"${check.path}" is larger than ${mib(cap)}.`, { entry: check.path }));
        return void entry.resume();
      }
      if (declaredBytes > limits.maxUncompressedBytes) {
        fail(new BundleArchiveError('bomb', `The files add up to more than ${mib(limits.maxUncompressedBytes)}.`));
        return void entry.resume();
      }
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => {
        if (!failure) files.set(check.path, Buffer.concat(chunks));
      });
    });
    parser.on('error', (error: unknown) => {
      if (failure) return reject(failure);
      const message = error instanceof Error ? error.message : String(error);
      reject(
        new BundleArchiveError('bad-tar', `The archive is not a valid tar: ${message.slice(0, 200)}`, { cause: error }),
      );
    });
    parser.on('abort', () => {
      if (failure) reject(failure);
    });
    parser.on('end', () => (failure ? reject(failure) : resolve(files)));
    parser.end(tarBytes);
  });
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB` : `${bytes} bytes`;
}
