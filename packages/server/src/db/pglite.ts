import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Db, Queryable } from './index.ts';

export interface PgliteOptions {
  /**
   * A tarball of an empty, initialised cluster (see writePgliteTemplate): a new
   * database is unpacked from it instead of running initdb, several times
   * faster. The test suite sets it (ALGA_PGLITE_TEMPLATE) for its many databases.
   */
  template?: string;
}

/** PGlite runs one connection; it queues queries itself, so no pool is needed. */
export async function openPglite(dataDir?: string, options: PgliteOptions = {}): Promise<Db> {
  const fresh = !dataDir || !existsSync(path.join(dataDir, 'PG_VERSION'));
  const pg =
    options.template && fresh
      ? await PGlite.create({
          ...(dataDir ? { dataDir } : {}),
          loadDataDir: new Blob([await readFile(options.template)]),
        })
      : await PGlite.create(dataDir);
  const wrap = (target: PGlite | Transaction): Queryable => ({
    async query<T>(sql: string, params: unknown[] = []) {
      const result = await target.query<T>(sql, params);
      return { rows: result.rows };
    },
    async exec(sql: string) {
      await target.exec(sql);
    },
  });
  return {
    engine: 'pglite',
    ...wrap(pg),
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    close: () => pg.close(),
  };
}

/** Writes the tarball `template` option reads: one initdb, dumped uncompressed. */
export async function writePgliteTemplate(file: string): Promise<void> {
  const pg = await PGlite.create();
  try {
    const dump = await pg.dumpDataDir('none');
    const partial = `${file}.${process.pid}.tmp`;
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await rename(partial, file);
  } finally {
    await pg.close();
  }
}
