/**
 * Builds bundle archives in memory for tests, including hostile ones (links,
 * `..`, absolute paths, devices) that no well-behaved packer would write.
 * Headers come from `tar` itself so checksums and fields are real.
 */
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { Header, Pax } from 'tar';

export interface TarEntrySpec {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  body?: Uint8Array | string;
  linkpath?: string;
}

export function tarBytes(entries: TarEntrySpec[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
    const type = entry.type ?? 'File';
    const data = {
      path: entry.path,
      type,
      size: type === 'File' ? body.length : 0,
      mode: type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date(0),
      ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
    };
    if (Buffer.byteLength(entry.path) > 99) blocks.push(new Pax(data).encode());
    const header = Buffer.alloc(512);
    new Header(data).encode(header);
    blocks.push(header);
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function archiveBytes(entries: TarEntrySpec[]): Buffer {
  return gzipSync(tarBytes(entries));
}

/** A well-formed bundle archive around a component, with optional extra entries. */
export function bundleArchive(
  manifest: unknown,
  component: Uint8Array,
  contentHash: string,
  extra: TarEntrySpec[] = [],
  metadata: Record<string, unknown> = {},
): Buffer {
  return archiveBytes([
    { path: 'manifest.json', body: JSON.stringify(manifest) },
    { path: 'component.wasm', body: component },
    { path: 'metadata.json', body: JSON.stringify({ contentHash, size: component.length, ...metadata }) },
    ...extra,
  ]);
}

/** tar + zstd, as the reference host's `alga pack` writes `bundle.tar.zst`. */
export function zstdArchiveBytes(entries: TarEntrySpec[]): Buffer {
  return zstdCompressSync(tarBytes(entries));
}

/**
 * A reference-layout `bundle.tar.zst`: the manifest at the root (or in
 * `folder/`), the component at both names its pack writes, and `extra`.
 */
export function referenceBundle(
  manifest: unknown,
  component: Uint8Array,
  extra: TarEntrySpec[] = [],
  folder = '',
): Buffer {
  return zstdArchiveBytes(
    [
      { path: 'manifest.json', body: JSON.stringify(manifest) },
      { path: 'dist/main.wasm', body: component },
      { path: 'artifacts/component/component.wasm', body: component },
      ...extra,
    ].map((entry) => ({ ...entry, path: `${folder}${entry.path}` })),
  );
}
