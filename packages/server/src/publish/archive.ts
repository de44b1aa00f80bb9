/**
 * Reads a bundle archive (docs/bundle-format.md) into memory, refusing
 * anything the format does not allow. Nothing is written to disk: entries are
 * checked as strings, so a hostile path never meets a filesystem.
 *
 * Decompression is bounded twice: zlib stops at `maxUncompressedBytes`
 * (so a bomb cannot exhaust memory) and the ratio is checked afterwards.
 */
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import {
  BUNDLE_COMPONENT,
  BUNDLE_MANIFEST,
  BUNDLE_METADATA,
  BUNDLE_REQUIRED_FILES,
  BundleArchiveError,
  DEFAULT_BUNDLE_LIMITS,
  checkBundleEntry,
  type BundleLimits,
} from '@alga-psa/protocol';

const gunzip = promisify(gunzipCallback);

export interface BundleContents {
  manifestText: string;
  component: Buffer;
  metadataText: string;
  /** `wit/...` path → text. */
  wit: Map<string, string>;
  /** `ui/...` path → bytes. */
  ui: Map<string, Buffer>;
  /** Uncompressed bytes of every file. */
  totalBytes: number;
}

export async function readBundleArchive(
  archive: Uint8Array,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<BundleContents> {
  if (archive.length > limits.maxArchiveBytes) {
    throw new BundleArchiveError('too-large', `The archive is larger than ${mib(limits.maxArchiveBytes)}.`);
  }
  if (archive.length < 18 || archive[0] !== 0x1f || archive[1] !== 0x8b) {
    throw new BundleArchiveError(
      'not-gzip',
      'The body is not a gzip archive; send the .tgz that `alga pack` writes with Content-Type: application/gzip.',
    );
  }
  const tarBytes = await inflate(archive, limits);
  // tar's parser would transparently unpack a second compression layer, which
  // would bypass the bounds above; a bundle is compressed exactly once.
  if (tarBytes[0] === 0x1f && tarBytes[1] === 0x8b) {
    throw new BundleArchiveError('bad-tar', 'The archive is compressed twice; gzip the tar once.');
  }
  const files = await untar(tarBytes, limits);

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
    manifestText: files.get(BUNDLE_MANIFEST)!.toString('utf8'),
    component: files.get(BUNDLE_COMPONENT)!,
    metadataText: files.get(BUNDLE_METADATA)!.toString('utf8'),
    wit,
    ui,
    totalBytes,
  };
}

async function inflate(archive: Uint8Array, limits: BundleLimits): Promise<Buffer> {
  let tarBytes: Buffer;
  try {
    tarBytes = await gunzip(archive, { maxOutputLength: limits.maxUncompressedBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new BundleArchiveError(
        'bomb',
        `The archive expands to more than ${mib(limits.maxUncompressedBytes)}; refusing it.`,
        { cause: error },
      );
    }
    throw new BundleArchiveError('not-gzip', 'The archive is not valid gzip (truncated or corrupt).', { cause: error });
  }
  if (tarBytes.length > limits.ratioFloorBytes && tarBytes.length / archive.length > limits.maxRatio) {
    throw new BundleArchiveError(
      'bomb',
      `The archive expands ${Math.round(tarBytes.length / archive.length)}× (more than ${limits.maxRatio}×); refusing it as a decompression bomb.`,
    );
  }
  return tarBytes;
}

function untar(tarBytes: Buffer, limits: BundleLimits): Promise<Map<string, Buffer>> {
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
      const check = checkBundleEntry(entry.path, entry.type, limits);
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
