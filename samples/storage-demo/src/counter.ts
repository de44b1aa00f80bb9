import { StorageError, type KeyValueStore } from '@alga-psa/extension-runtime';

export const MAX_ATTEMPTS = 5;

/**
 * Adds `by` to a counter without losing concurrent updates: read the value
 * and its revision, write with `expectedRevision`, and on `conflict` (someone
 * else wrote in between) read again and retry. `0n` means "create only if
 * absent", so two first writers cannot both start from zero.
 */
export async function increment(
  store: KeyValueStore,
  key: string,
  by = 1,
): Promise<{ value: number; attempts: number }> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const current = await store.get(key);
    const value = (current ? current.json<number>() : 0) + by;
    try {
      await store.put(key, value, { expectedRevision: current?.revision ?? 0n });
      return { value, attempts: attempt };
    } catch (error) {
      if (error instanceof StorageError && error.code === 'conflict') continue;
      throw error;
    }
  }
  throw new StorageError('conflict', key);
}
