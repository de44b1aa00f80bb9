import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { migrate } from './migrate.ts';
import { openPglite, writePgliteTemplate } from './pglite.ts';

let dir: string;
let template: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'alga-pglite-'));
  template = path.join(dir, 'empty.tar');
  await writePgliteTemplate(template);
});
after(() => rm(dir, { recursive: true, force: true }));

test('a database unpacked from the template starts empty and migrates like a fresh one', async () => {
  const db = await openPglite(undefined, { template });
  try {
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'",
    );
    assert.equal(rows[0]!.n, 0);
    assert.ok((await migrate(db)).length > 0);
  } finally {
    await db.close();
  }
});

test('a data dir is filled from the template once, then reopened with its rows, not overwritten', async () => {
  const dataDir = path.join(dir, 'pgdata');
  const first = await openPglite(dataDir, { template });
  await first.exec('CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$still here$$)');
  await first.close();
  const second = await openPglite(dataDir, { template });
  try {
    const { rows } = await second.query<{ v: string }>('SELECT v FROM kept');
    assert.deepEqual(rows, [{ v: 'still here' }]);
  } finally {
    await second.close();
  }
});
