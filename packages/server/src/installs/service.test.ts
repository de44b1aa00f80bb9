/**
 * The install service against a real database: each operation writes in ONE
 * transaction with its audit row in it, and the gateway's cached view of an
 * install follows every write without anyone invalidating it by hand.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import { LocalKeyring } from '@alga-psa/transit';
import { secretEgressField, type Manifest } from '@alga-psa/protocol';
import { createTenantWithKey } from '../auth/api-keys.ts';
import type { Db, Queryable } from '../db/index.ts';
import { migrate } from '../db/migrate.ts';
import { publishVersion } from '../publish/publish.ts';
import { testEngines } from '../testing/databases.ts';
import { fakeComponent, sampleManifest } from '../testing/fixtures.ts';
import { InstallService, type Actor, type InstallRow } from './service.ts';

/** Each statement the service sends, and where: the pool, or the n-th transaction. */
interface Sent {
  where: 'pool' | number;
  sql: string;
}

/** The same database, recording every statement and the transaction it ran in. */
function recording(db: Db): { db: Db; sent: Sent[] } {
  const sent: Sent[] = [];
  let transactions = 0;
  const wrap = (target: Queryable, where: Sent['where']): Queryable => ({
    query: (sql, params) => {
      sent.push({ where, sql });
      return target.query(sql, params);
    },
    exec: (sql) => target.exec(sql),
  });
  return {
    sent,
    db: {
      engine: db.engine,
      ...wrap(db, 'pool'),
      transaction: (fn) => {
        const n = ++transactions;
        return db.transaction((tx) => fn(wrap(tx, n)));
      },
      close: () => db.close(),
    },
  };
}

const isWrite = (sent: Sent) => /^\s*(INSERT|UPDATE|DELETE)\b/i.test(sent.sql);

for (const engine of testEngines()) {
  describe(`install service (${engine.name})`, () => {
    let raw: Db;
    let db: Db;
    let sent: Sent[];
    let dir: string;
    let installs: InstallService;
    let actor: Actor;
    const prepared: string[] = [];

    const publish = async (manifest: Manifest) => {
      const component = fakeComponent();
      const principal = { tenantId: actor.tenantId, role: 'admin' as const, keyId: 'k', actor: actor.actor };
      await publishVersion(
        raw,
        principal,
        { manifest, contentHash: contentHashOf(component), component, metadata: {} },
        'r',
      );
    };

    /** Runs `operation` and returns the audit actions it wrote, checking they share one transaction with every write. */
    async function audited(operation: () => Promise<unknown>): Promise<string[]> {
      sent.length = 0;
      const before = await auditCount();
      await operation();
      const writes = sent.filter(isWrite);
      const audits = writes.filter((w) => w.sql.includes('INTO audit_log'));
      const transactions = new Set(writes.map((w) => w.where));
      if (writes.length > 0) {
        assert.equal(transactions.size, 1, `writes spread over ${[...transactions].join(', ')}`);
        assert.notEqual(writes[0]!.where, 'pool', 'a write outside any transaction');
      }
      const { rows } = await raw.query<{ action: string }>(
        'SELECT action FROM audit_log WHERE tenant_id = $1 ORDER BY id OFFSET $2',
        [actor.tenantId, before],
      );
      assert.equal(rows.length, audits.length);
      return rows.map((row) => row.action);
    }
    const auditCount = async () =>
      (
        await raw.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1', [
          actor.tenantId,
        ])
      ).rows[0]!.n;

    const current = (install: InstallRow) => installs.get(install.tenantId, install.extensionId);

    before(async () => {
      raw = await engine.open();
      await migrate(raw);
      ({ db, sent } = recording(raw));
      dir = await mkdtemp(path.join(tmpdir(), 'alga-install-service-'));
      const keyring = await LocalKeyring.open(path.join(dir, 'transit-keys.json'), { create: true });
      // A long TTL: anything fresh that runtime() returns below came from an invalidation, not expiry.
      installs = new InstallService({
        db,
        encrypter: keyring,
        runtimeTtlMs: 60_000,
        prepare: async (install) => void prepared.push(install.extensionId),
      });
      const { tenantId, keyId } = await createTenantWithKey(raw, { name: 'service-test' });
      actor = { tenantId, actor: `api_key:${keyId}`, requestId: 'req-service' };
      await publish(sampleManifest());
      await publish(sampleManifest({ name: 'web-ext' }));
    });
    after(async () => {
      await raw.close();
      await rm(dir, { recursive: true, force: true });
    });
    beforeEach(() => {
      sent.length = 0;
    });

    test('install, then upgrade: one audit row each, in the transaction that wrote the install', async () => {
      let created: InstallRow | undefined;
      assert.deepEqual(
        await audited(async () => {
          const result = await installs.install(actor, { extensionId: 'hello-ext' });
          assert.equal(result.created, true);
          created = result.install;
        }),
        ['install.create'],
      );
      assert.equal((await installs.runtime(actor.tenantId, 'hello-ext'))?.install.version, '1.0.0');
      await publish(sampleManifest({ version: '1.1.0' }));
      assert.deepEqual(
        await audited(async () =>
          assert.equal((await installs.install(actor, { extensionId: 'hello-ext' })).created, false),
        ),
        ['install.upgrade'],
      );
      assert.equal((await installs.runtime(actor.tenantId, 'hello-ext'))?.install.version, '1.1.0', 'cache dropped');
      assert.deepEqual(prepared, ['hello-ext', 'hello-ext'], 'runners prepare after install and upgrade');
      assert.equal(created?.extensionId, 'hello-ext');
    });

    test('install with consent: one audit row; a second install of the same extension is a conflict', async () => {
      assert.deepEqual(
        await audited(() =>
          installs.installWithConsent(actor, {
            extensionId: 'web-ext',
            version: '1.0.0',
            consent: ['cap:context.read', 'cap:http.fetch', 'cap:log.emit', 'cap:secrets.get'],
          }),
        ),
        ['install.create'],
      );
      await assert.rejects(
        installs.installWithConsent(actor, { extensionId: 'web-ext', version: '1.0.0', consent: [] }),
        { code: 'ALGA_VALIDATION_FAILED' },
      );
      await assert.rejects(
        installs.installWithConsent(actor, {
          extensionId: 'web-ext',
          version: '1.0.0',
          consent: ['cap:context.read', 'cap:http.fetch', 'cap:log.emit', 'cap:secrets.get'],
        }),
        { code: 'ALGA_VERSION_CONFLICT', message: 'web-ext is already installed in this tenant.' },
      );
    });

    test('save config: one audit row naming the changed keys; the runtime sees the new config at once', async () => {
      const install = await installs.get(actor.tenantId, 'hello-ext');
      const before = await installs.runtime(actor.tenantId, 'hello-ext');
      assert.deepEqual(
        await audited(() => installs.saveConfig(actor, install, { greeting: 'Hi', retries: 3, mode: 'fast' })),
        ['config.update'],
      );
      const { rows } = await raw.query<{ key_names: string[] }>(
        "SELECT key_names FROM audit_log WHERE action = 'config.update' ORDER BY id DESC LIMIT 1",
      );
      assert.deepEqual(rows[0]!.key_names, ['greeting']);
      const after = await installs.runtime(actor.tenantId, 'hello-ext');
      assert.equal(after?.config['greeting'], 'Hi');
      assert.equal(after?.configVersion, before!.configVersion + 1);
    });

    test('set and delete a secret: one audit row each; the envelope follows; deleting an unset one writes no row', async () => {
      const install = await installs.get(actor.tenantId, 'hello-ext');
      assert.deepEqual(await audited(() => installs.setSecret(actor, install, 'api_token', 'tok-1')), ['secret.set']);
      const withSecret = await installs.runtime(actor.tenantId, 'hello-ext');
      assert.match(withSecret?.envelope?.ciphertexts['api_token'] ?? '', /^vault:v1:/);
      assert.deepEqual(await audited(() => installs.deleteSecret(actor, install, 'api_token')), ['secret.delete']);
      assert.deepEqual((await installs.runtime(actor.tenantId, 'hello-ext'))?.envelope?.ciphertexts, {});
      assert.deepEqual(await audited(() => installs.deleteSecret(actor, install, 'api_token')), []);
    });

    test('save settings: config and secrets in one transaction, one audit row per kind that changed', async () => {
      const install = await installs.get(actor.tenantId, 'hello-ext');
      const config = { greeting: 'Hey', retries: 4, mode: 'safe' };
      assert.deepEqual(await audited(() => installs.saveSettings(actor, install, { config })), ['config.update']);
      assert.deepEqual(
        await audited(() => installs.saveSettings(actor, install, { config, secrets: { set: { api_token: 'x' } } })),
        ['secret.update'],
      );
      assert.deepEqual(
        await audited(() =>
          installs.saveSettings(actor, install, {
            config: { ...config, retries: 5 },
            secrets: { set: { webhook_secret: 'y' }, clear: ['api_token'] },
          }),
        ),
        ['config.update', 'secret.update'],
      );
      assert.deepEqual(
        await audited(() => installs.saveSettings(actor, install, { config: { ...config, retries: 5 } })),
        [],
      );
      const runtime = await installs.runtime(actor.tenantId, 'hello-ext');
      assert.equal(runtime?.config['retries'], 5);
      assert.deepEqual(Object.keys(runtime?.envelope?.ciphertexts ?? {}), ['webhook_secret']);
    });

    test('a save that fails validation or encryption writes nothing at all', async () => {
      const install = await installs.get(actor.tenantId, 'hello-ext');
      const state = await installs.state(install);
      await assert.rejects(
        audited(() =>
          installs.saveSettings(actor, install, {
            config: { greeting: 'Never', retries: 99, mode: 'fast' },
            secrets: { set: { api_token: 'never' } },
          }),
        ),
        { code: 'ALGA_VALIDATION_FAILED', details: [{ field: 'retries', message: '"retries" must be ≤ 10.' }] },
      );
      const broken = new InstallService({
        db,
        encrypter: { keyRef: 'local:broken', encrypt: () => Promise.reject(new Error('transit down')) },
      });
      sent.length = 0;
      await assert.rejects(
        broken.saveSettings(actor, install, { config: { greeting: 'Never' }, secrets: { set: { api_token: 'x' } } }),
        { code: 'ALGA_TRANSIT_UNAVAILABLE' },
      );
      await assert.rejects(broken.setSecret(actor, install, 'api_token', 'x'), { code: 'ALGA_TRANSIT_UNAVAILABLE' });
      assert.deepEqual(sent.filter(isWrite), [], 'a transit failure opens no transaction');
      assert.deepEqual(await installs.state(install), state);
    });

    test('an audit row that cannot be written takes the whole change with it', async () => {
      const install = await installs.get(actor.tenantId, 'hello-ext');
      const failing: Db = {
        ...db,
        transaction: (fn) =>
          db.transaction((tx) =>
            fn({
              ...tx,
              query: (sql, params) =>
                sql.includes('INTO audit_log') ? Promise.reject(new Error('audit down')) : tx.query(sql, params),
            }),
          ),
      };
      const strict = new InstallService({ db: failing, encrypter: { keyRef: 'k', encrypt: async () => 'vault:v1:x' } });
      const before = await installs.state(install);
      await assert.rejects(
        strict.saveConfig(actor, install, { greeting: 'Lost', retries: 1, mode: 'fast' }),
        /audit down/,
      );
      await assert.rejects(strict.reset(actor, install), /audit down/);
      await assert.rejects(strict.setEnabled(actor, install, false), /audit down/);
      assert.deepEqual(await installs.state(install), before);
      assert.equal((await current(install)).enabled, true);
    });

    test('disable and enable: one audit row per change, none for a repeat; the runtime follows', async () => {
      const install = await installs.get(actor.tenantId, 'hello-ext');
      assert.equal((await installs.runtime(actor.tenantId, 'hello-ext'))?.install.enabled, true);
      assert.deepEqual(await audited(() => installs.setEnabled(actor, install, false)), ['install.disable']);
      assert.equal((await installs.runtime(actor.tenantId, 'hello-ext'))?.install.enabled, false);
      assert.deepEqual(await audited(() => installs.setEnabled(actor, install, false)), []);
      assert.deepEqual(await audited(() => installs.setEnabled(actor, install, true)), ['install.enable']);
      assert.equal((await installs.runtime(actor.tenantId, 'hello-ext'))?.install.enabled, true);
    });

    test('reset: one install.reset row naming every changed key; both versions bump', async () => {
      const install = await current(await installs.get(actor.tenantId, 'hello-ext'));
      const before = await installs.runtime(actor.tenantId, 'hello-ext');
      assert.deepEqual(await audited(() => installs.reset(actor, install)), ['install.reset']);
      const { rows } = await raw.query<{ key_names: string[] }>(
        "SELECT key_names FROM audit_log WHERE action = 'install.reset' ORDER BY id DESC LIMIT 1",
      );
      assert.deepEqual(rows[0]!.key_names, ['greeting', 'mode', 'retries', 'webhook_secret']);
      const after = await installs.runtime(actor.tenantId, 'hello-ext');
      assert.deepEqual(after?.config, { greeting: 'Hello', retries: 3, mode: 'fast' });
      assert.equal(after?.configVersion, before!.configVersion + 1);
      assert.equal(after?.install.secretsVersion, before!.install.secretsVersion + 1);
    });

    test('uninstall: one audit row; the runtime says "not installed" at once', async () => {
      const install = await installs.get(actor.tenantId, 'web-ext');
      assert.ok(await installs.runtime(actor.tenantId, 'web-ext'));
      assert.deepEqual(await audited(() => installs.uninstall(actor, install)), ['install.delete']);
      assert.equal(await installs.runtime(actor.tenantId, 'web-ext'), null);
      await assert.rejects(installs.uninstall(actor, install), { code: 'ALGA_NOT_FOUND' });
    });

    describe('an upgrade that drops a secret setting', () => {
      const EXT = 'egress-ext';
      const egressBound = { key: 'api_token', type: 'string', label: 'API token', secret: true } as const;
      const plain = { key: 'webhook_secret', type: 'string', label: 'Webhook secret', secret: true } as const;
      const greeting = { key: 'greeting', type: 'string', label: 'Greeting', default: 'Hello' } as const;
      const expires = new Date(Date.now() + 86_400_000).toISOString();
      /** Secret key → hosts, as the gateway puts it in `secret_egress` for the install's current manifest. */
      const egressSent = async () =>
        secretEgressField((await installs.runtime(actor.tenantId, EXT))!.install.manifest.settings).secret_egress ?? {};
      const delivered = async () =>
        Object.keys((await installs.runtime(actor.tenantId, EXT))?.envelope?.ciphertexts ?? {});

      before(async () => {
        await publish(
          sampleManifest({
            name: EXT,
            version: '0.5.0',
            settings: [greeting, { ...egressBound, egress: ['api.example.com'] }, plain],
          }),
        );
        await publish(sampleManifest({ name: EXT, version: '0.5.1', settings: [greeting, plain] }));
        // The reference format: no settings at all, so an admin may add secret keys of any name.
        await publish(sampleManifest({ name: EXT, version: '0.5.2', settings: [] }));
        await installs.install(actor, { extensionId: EXT, version: '0.5.0' });
        const install = await installs.get(actor.tenantId, EXT);
        await installs.setSecret(actor, install, 'api_token', 'tok-egress-only', expires);
        await installs.setSecret(actor, install, 'webhook_secret', 'hook');
      });

      test('the envelope a runner gets no longer carries a secret the new version does not declare', async () => {
        assert.deepEqual(await delivered(), ['api_token', 'webhook_secret']);
        assert.deepEqual(await egressSent(), { api_token: ['api.example.com'] }, '0.5.0: api_token is egress-bound');
        const secretsVersion = (await installs.get(actor.tenantId, EXT)).secretsVersion;

        const upgrade = await installs.install(actor, { extensionId: EXT, version: '0.5.1' });
        const runtime = await installs.runtime(actor.tenantId, EXT);
        assert.equal(runtime?.install.version, '0.5.1');
        assert.deepEqual(Object.keys(runtime?.envelope?.ciphertexts ?? {}), ['webhook_secret']);
        assert.deepEqual(upgrade.undeliveredSecrets, ['api_token'], 'the upgrade says: kept, not delivered');
        assert.equal(runtime?.envelope?.key_expires_at, undefined, 'no expiry of a key that is not sent');
        assert.equal(runtime?.install.secretsVersion, secretsVersion + 1, 'runners drop values decrypted before');
        const { rows } = await raw.query<{ key_names: string[] }>(
          "SELECT key_names FROM audit_log WHERE action = 'install.upgrade' ORDER BY id DESC LIMIT 1",
        );
        assert.deepEqual(rows[0]!.key_names, ['api_token'], 'the upgrade row names the secret it stopped delivering');

        // Kept, encrypted: an admin still sees (and can delete) it.
        const state = await installs.state(upgrade.install);
        assert.deepEqual(state.undeliveredSecrets, ['api_token']);
        assert.deepEqual(
          state.secrets.map((s) => [s.key, s.set]),
          [
            ['webhook_secret', true],
            ['api_token', true],
          ],
        );
      });

      test('an egress-bound secret stays egress-bound or absent, never plain, across upgrades and downgrades', async () => {
        /** Every key the runner may decrypt is either sent with its egress hosts or was never egress-bound. */
        const neverPlain = async (label: string) => {
          if ((await delivered()).includes('api_token'))
            assert.deepEqual((await egressSent())['api_token'], ['api.example.com'], label);
        };
        await neverPlain('0.5.1');
        // No settings at all (custom keys): a key some version binds to egress hosts is still not handed over.
        const custom = await installs.install(actor, { extensionId: EXT, version: '0.5.2' });
        assert.deepEqual(await delivered(), ['webhook_secret']);
        assert.deepEqual(custom.undeliveredSecrets, ['api_token']);
        await neverPlain('0.5.2');
        // Back to a version that declares it: the stored value is used again, on that version's terms.
        const back = await installs.install(actor, { extensionId: EXT, version: '0.5.0' });
        assert.deepEqual(back.undeliveredSecrets, []);
        assert.deepEqual(await delivered(), ['api_token', 'webhook_secret']);
        assert.deepEqual(await egressSent(), { api_token: ['api.example.com'] });
        const runtime = await installs.runtime(actor.tenantId, EXT);
        assert.deepEqual(runtime?.envelope?.key_expires_at, { api_token: new Date(expires).toISOString() });
        await neverPlain('0.5.0 again');
      });

      test('a version that declares the secret with looser egress terms gets no value until an admin sets it again', async () => {
        // The publisher's next versions read the token in plain, or send it to another host.
        await publish(sampleManifest({ name: EXT, version: '0.6.0', settings: [greeting, egressBound, plain] }));
        await publish(
          sampleManifest({
            name: EXT,
            version: '0.6.1',
            settings: [greeting, { ...egressBound, egress: ['api.example.com', 'evil.example'] }, plain],
          }),
        );
        await publish(
          sampleManifest({
            name: EXT,
            version: '0.6.2',
            settings: [greeting, { ...egressBound, egress: ['api.example.com'] }, plain],
          }),
        );
        for (const version of ['0.6.0', '0.6.1']) {
          const looser = await installs.install(actor, { extensionId: EXT, version });
          assert.deepEqual(looser.undeliveredSecrets, ['api_token'], version);
          assert.deepEqual(await delivered(), ['webhook_secret'], version);
        }
        // The same terms as when it was set: delivered again, egress-bound.
        assert.deepEqual(
          (await installs.install(actor, { extensionId: EXT, version: '0.6.2' })).undeliveredSecrets,
          [],
        );
        assert.deepEqual(await delivered(), ['api_token', 'webhook_secret']);
        // An admin who sets it under 0.6.0's terms hands it to 0.6.0.
        const plainVersion = await installs.install(actor, { extensionId: EXT, version: '0.6.0' });
        await installs.setSecret(actor, plainVersion.install, 'api_token', 'tok-for-reading');
        assert.deepEqual(await delivered(), ['api_token', 'webhook_secret']);
        assert.deepEqual((await installs.state(plainVersion.install)).undeliveredSecrets, []);
      });
    });

    test("another tenant's install is not found, by extension or by id, and a malformed id is no query at all", async () => {
      const other = await createTenantWithKey(raw, { name: 'service-other' });
      const mine = await installs.get(actor.tenantId, 'hello-ext');
      await assert.rejects(installs.get(other.tenantId, 'hello-ext'), {
        code: 'ALGA_NOT_FOUND',
        message: 'Extension "hello-ext" is not installed for this tenant.',
      });
      await assert.rejects(installs.getById(other.tenantId, mine.id), {
        code: 'ALGA_NOT_FOUND',
        message: 'No such extension install in this tenant.',
      });
      sent.length = 0;
      await assert.rejects(installs.getById(actor.tenantId, 'not-a-uuid'), { code: 'ALGA_NOT_FOUND' });
      assert.deepEqual(sent, []);
      assert.equal((await installs.getById(actor.tenantId, mine.id)).extensionId, 'hello-ext');
    });
  });
}
