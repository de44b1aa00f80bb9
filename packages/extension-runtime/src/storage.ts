import { bodyReader, encodeValue, type BodyReader } from './body.ts';
import { StorageError } from './errors.ts';
import { host, witErrorCase } from './host.ts';

export const DEFAULT_NAMESPACE = 'default';

/**
 * One stored value. Revisions are `bigint` because the WIT type is `u64`
 * (jco maps it to BigInt); pass them back unchanged as `expectedRevision`.
 */
export interface StoredEntry extends BodyReader {
  namespace: string;
  key: string;
  revision: bigint;
}

export interface PutOptions {
  /**
   * Write only if the stored revision is still this one (optimistic
   * concurrency); otherwise reject with `StorageError('conflict')`. Use `0n`
   * for "only if the key does not exist yet".
   */
  expectedRevision?: bigint;
}

export interface StoragePage {
  entries: StoredEntry[];
  /** Pass to the next `list()` call; undefined on the last page. */
  nextCursor: string | undefined;
}

export interface KeyValueStore {
  /** The entry, or undefined when there is none. */
  get(key: string): Promise<StoredEntry | undefined>;
  /** Strings are stored as UTF-8, bytes as they are, anything else as JSON. Resolves to the new revision. */
  put(key: string, value: unknown, options?: PutOptions): Promise<bigint>;
  /** Resolves to false when there was nothing to delete. */
  delete(key: string): Promise<boolean>;
  /** One page of entries; follow `nextCursor` for the rest. */
  list(options?: { cursor?: string }): Promise<StoragePage>;
}

export interface Storage extends KeyValueStore {
  /** The same API on another namespace of this install's storage. */
  namespace(name: string): KeyValueStore;
}

type WitEntry = { namespace: string; key: string; value: Uint8Array; revision?: bigint };

function toEntry(entry: WitEntry): StoredEntry {
  return {
    namespace: entry.namespace,
    key: entry.key,
    // A backend that does not version entries reports none; 0n keeps the type simple.
    revision: entry.revision ?? 0n,
    ...bodyReader(entry.value),
  };
}

function fail(error: unknown, key: string): never {
  const code = witErrorCase(error);
  throw new StorageError(code === 'conflict' || code === 'missing' || code === 'denied' ? code : 'internal', key);
}

function store(namespace: string): KeyValueStore {
  const backend = (key: string) => {
    const storage = host().storage;
    if (!storage) throw new StorageError('not-declared', key);
    return storage;
  };
  return {
    async get(key) {
      const storage = backend(key);
      try {
        return toEntry(storage.get(namespace, key));
      } catch (error) {
        if (witErrorCase(error) === 'missing') return undefined;
        fail(error, key);
      }
    },
    async put(key, value, options = {}) {
      const storage = backend(key);
      const entry: WitEntry = { namespace, key, value: encodeValue(value).bytes };
      if (options.expectedRevision !== undefined) entry.revision = BigInt(options.expectedRevision);
      try {
        return storage.put(entry).revision ?? 0n;
      } catch (error) {
        fail(error, key);
      }
    },
    async delete(key) {
      const storage = backend(key);
      try {
        storage.delete(namespace, key);
        return true;
      } catch (error) {
        if (witErrorCase(error) === 'missing') return false;
        fail(error, key);
      }
    },
    async list(options = {}) {
      const storage = backend('*');
      try {
        const page = storage.listPage(namespace, options.cursor);
        return { entries: page.entries.map(toEntry), nextCursor: page.nextCursor ?? undefined };
      } catch (error) {
        fail(error, '*');
      }
    },
  };
}

export function createStorage(): Storage {
  return { ...store(DEFAULT_NAMESPACE), namespace: (name) => store(name) };
}
