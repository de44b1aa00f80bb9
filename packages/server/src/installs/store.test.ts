import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import { createTenantWithKey } from '../auth/api-keys.ts';
import type { Db } from '../db/index.ts';
import { migrate } from '../db/migrate.ts';
import { publishVersion } from '../publish/publish.ts';
import { testEngines } from '../testing/databases.ts';
import { fakeComponent, sampleManifest } from '../testing/fixtures.ts';
import { InstallStore, InstallWriter } from './store.ts';

for (const engine of testEngines()) {
  describe(`install store (${engine.name})`, () => {
    let db: Db;
    let tenantId: string;
    before(async () => {
      db = await engine.open();
      await migrate(db);
      ({ tenantId } = await createTenantWithKey(db, { name: 'store-test' }));
      const component = fakeComponent();
      const principal = { tenantId, role: 'admin' as const, keyId: 'k', actor: 'test' };
      const input = { manifest: sampleManifest(), contentHash: contentHashOf(component), component, metadata: {} };
      await publishVersion(db, principal, input, 'r');
    });
    after(() => db.close());

    test('every write drops the cached install, once per transaction, also when the transaction fails', async () => {
      const dropped: string[] = [];
      const store = new InstallStore(db, { invalidate: (tenant, extension) => dropped.push(`${tenant}/${extension}`) });
      const key = { tenantId, extensionId: 'hello-ext' };
      const expected = [`${tenantId}/hello-ext`];
      const id = (await store.write(key, (tx) => tx.create(tenantId, 'hello-ext', '1.0.0', ['cap:log.emit'])))!;
      assert.ok(id);
      assert.deepEqual(dropped, expected, 'create');
      const secret = { key: 'api_token', ciphertext: 'vault:v1:x', keyRef: 'local:k' };
      const writes: Record<string, (tx: InstallWriter) => Promise<unknown>> = {
        lock: (tx) => tx.lock(tenantId, 'hello-ext'),
        create: (tx) => tx.create(tenantId, 'hello-ext', '1.0.0', ['cap:log.emit']),
        upgrade: (tx) => tx.upgrade(id, '1.0.0', ['cap:context.read', 'cap:log.emit']),
        setEnabled: (tx) => tx.setEnabled(tenantId, id, false),
        setEgressGrants: (tx) => tx.setEgressGrants(tenantId, id, ['api.example.com']),
        writeConfig: (tx) => tx.writeConfig(id, { greeting: 'Hi' }, 'test'),
        writeSecret: (tx) => tx.writeSecret(id, secret, 'test'),
        deleteSecrets: (tx) => tx.deleteSecrets(id, ['api_token']),
        bumpSecretsVersion: (tx) => tx.bumpSecretsVersion(id),
        audit: (tx) => tx.audit({ actor: 'test', tenantId, installId: id, action: 'test.write' }),
        remove: (tx) => tx.remove(tenantId, id),
      };
      const own = Object.getOwnPropertyNames(InstallWriter.prototype).filter((name) => name !== 'constructor');
      assert.deepEqual(own.sort(), Object.keys(writes).sort(), 'every writer method is covered here');
      for (const [name, write] of Object.entries(writes)) {
        dropped.length = 0;
        await store.write(key, write);
        assert.deepEqual(dropped, expected, name);
      }
      dropped.length = 0;
      await assert.rejects(
        store.write(key, async (tx) => {
          await tx.audit({ actor: 'test', tenantId, action: 'test.rolled-back' });
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.deepEqual(dropped, expected, 'a failed transaction');
    });

    test('writes: config versions count up from 1, a secret bump counts the install, deletes report what was there', async () => {
      const store = new InstallStore(db);
      const key = { tenantId, extensionId: 'hello-ext' };
      const id = (await store.write(key, (tx) => tx.create(tenantId, 'hello-ext', '1.0.0', ['cap:secrets.get'])))!;
      await store.write(key, async (tx) => {
        assert.equal(await tx.create(tenantId, 'hello-ext', '1.0.0', []), undefined, 'one install per extension');
        assert.equal(await tx.lock(tenantId, 'hello-ext'), id);
        assert.equal(await tx.writeConfig(id, { greeting: 'a' }, 'test'), 1);
        assert.equal(await tx.writeConfig(id, { greeting: 'b' }, 'test'), 2);
        const secret = { key: 'api_token', ciphertext: 'vault:v1:x', keyRef: 'local:k' };
        assert.equal(await tx.writeSecret(id, secret, 'test'), 1);
        assert.equal(await tx.writeSecret(id, secret, 'test'), 2);
        assert.equal(await tx.writeSecret(id, { ...secret, key: 'webhook_secret' }, 'test'), 1);
        assert.equal(await tx.bumpSecretsVersion(id), 1);
        assert.equal(await tx.setEnabled(tenantId, id, false), true);
        assert.equal(await tx.setEnabled(tenantId, id, false), false);
      });
      const install = (await store.findById(tenantId, id))!;
      assert.deepEqual(await store.config(id), { config: { greeting: 'b' }, version: 2 });
      assert.deepEqual(
        (await store.secretMeta(install)).map((s) => [s.key, s.set, s.version]),
        [
          ['api_token', true, 2],
          ['webhook_secret', true, 1],
        ],
      );
      assert.deepEqual(await store.ciphertexts(id), {
        ciphertexts: { api_token: 'vault:v1:x', webhook_secret: 'vault:v1:x' },
        keyRef: 'local:k',
        expiresAt: {},
        egressAtSet: {},
      });
      assert.deepEqual(
        (await store.list(tenantId)).map((i) => [i.extensionId, i.enabled, i.secretsSet.sort()]),
        [['hello-ext', false, ['api_token', 'webhook_secret']]],
      );
      await store.write(key, async (tx) => {
        assert.deepEqual(await tx.deleteSecrets(id, ['api_token', 'nope']), ['api_token']);
        assert.deepEqual(await tx.deleteSecrets(id), ['webhook_secret']);
        assert.equal(await tx.remove(tenantId, id), true);
        assert.equal(await tx.remove(tenantId, id), false);
        assert.equal(await tx.setEnabled(tenantId, id, true), undefined);
      });
      assert.equal(await store.find(tenantId, 'hello-ext'), undefined);
    });

    test('an install is found only in its own tenant, and a malformed id matches nothing', async () => {
      const store = new InstallStore(db);
      const key = { tenantId, extensionId: 'hello-ext' };
      const id = (await store.write(key, (tx) => tx.create(tenantId, 'hello-ext', '1.0.0', [])))!;
      const other = (await createTenantWithKey(db, { name: 'store-other' })).tenantId;
      assert.equal((await store.find(tenantId, 'hello-ext'))?.id, id);
      assert.equal((await store.findById(tenantId, id))?.extensionId, 'hello-ext');
      assert.equal(await store.find(other, 'hello-ext'), undefined);
      assert.equal(await store.findById(other, id), undefined);
      assert.equal(await store.findById(tenantId, 'not-a-uuid'), undefined);
      assert.equal(await store.findById('not-a-uuid', id), undefined);
      assert.deepEqual(await store.config(id), { config: {}, version: 0 }, 'no config row yet');
      await store.write(key, (tx) => tx.remove(tenantId, id));
    });
  });
}
