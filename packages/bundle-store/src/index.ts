import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface BundleStore {
  /** Stores bytes under their own hash and returns `sha256:<hex>`. Idempotent. */
  put(bytes: Uint8Array): Promise<string>;
  /** Returns the bytes for a hash, verified, or undefined when absent. */
  get(contentHash: string): Promise<Uint8Array | undefined>;
}

export class BundleIntegrityError extends Error {
  constructor(contentHash: string) {
    super(`Bundle ${contentHash} failed its sha256 check; the stored bytes were altered.`);
    this.name = 'BundleIntegrityError';
  }
}

const HASH_RE = /^sha256:([0-9a-f]{64})$/;

export function contentHashOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function parseContentHash(contentHash: string): string {
  const match = HASH_RE.exec(contentHash);
  if (!match)
    throw new TypeError(
      `Content hash must look like sha256:<64 hex chars>, got ${JSON.stringify(contentHash.slice(0, 80))}.`,
    );
  return match[1]!;
}

export class DirectoryBundleStore implements BundleStore {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  #file(contentHash: string): string {
    return path.join(this.root, 'sha256', parseContentHash(contentHash), 'component.wasm');
  }

  async put(bytes: Uint8Array): Promise<string> {
    const contentHash = contentHashOf(bytes);
    const file = this.#file(contentHash);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
    return contentHash;
  }

  async get(contentHash: string): Promise<Uint8Array | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.#file(contentHash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    if (contentHashOf(bytes) !== contentHash) throw new BundleIntegrityError(contentHash);
    return bytes;
  }
}

export { S3BundleStore, type S3BundleStoreOptions } from './s3.ts';
export { bundleStoreFromEnv } from './from-env.ts';
