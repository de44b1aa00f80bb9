import { createHandler, json, StorageError } from '@alga-psa/extension-runtime';
import { increment } from './counter.ts';

const KEY = 'counter';

export const handler = createHandler(async (request, ctx) => {
  try {
    if (request.method === 'POST') {
      const { value, attempts } = await increment(ctx.storage, KEY);
      if (attempts > 1) ctx.log.info(`counter updated after ${attempts} attempts`);
      return json({ count: value, attempts });
    }
    const entry = await ctx.storage.get(KEY);
    // Revisions are u64 → bigint; JSON has no bigint, so send it as a string.
    return json({ count: entry ? entry.json<number>() : 0, revision: entry ? entry.revision.toString() : null });
  } catch (error) {
    if (error instanceof StorageError) return json({ error: error.code, message: error.message }, { status: 503 });
    throw error;
  }
});
