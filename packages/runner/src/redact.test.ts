import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { SecretCache } from './providers/secrets/cache.ts';
import { maskSecrets, secretForms } from './redact.ts';
import { testScope } from './testing/scope.ts';

describe('maskSecrets', () => {
  it('masks the plain value and its base64, unpadded base64, base64url, hex and URL-encoded forms', () => {
    const secret = 'k?y/+ v>';
    for (const form of secretForms(secret)) assert.equal(maskSecrets(`<${form}>`, [secret]), '<[REDACTED]>', form);
    assert.ok(secretForms(secret).includes('k%3Fy%2F%2B%20v%3E'));
    assert.ok(secretForms(secret).includes('k%3Fy%2F%2B+v%3E'), 'form-encoded spaces');
    assert.ok(secretForms(secret).includes(Buffer.from(secret).toString('hex')), 'hex');
  });

  it('masks every occurrence of every value', () => {
    assert.equal(maskSecrets('a1 b2 a1', ['a1', 'b2']), '[REDACTED] [REDACTED] [REDACTED]');
  });

  it('masks a longer secret whole even when a shorter one is its substring', () => {
    assert.equal(maskSecrets('abcdef', ['abc', 'abcdef']), '[REDACTED]');
  });

  it("follows an execution's set of values as it grows and is cleared", () => {
    const values = new Set(['first-secret']);
    assert.equal(maskSecrets('first-secret second-secret', values), '[REDACTED] second-secret');
    values.add('second-secret');
    assert.equal(maskSecrets('first-secret second-secret', values), '[REDACTED] [REDACTED]');
    values.delete('first-secret');
    values.add('third-secret');
    assert.equal(
      maskSecrets('first-secret third-secret', values),
      'first-secret [REDACTED]',
      'same size, other values',
    );
    values.clear();
    assert.equal(maskSecrets('first-secret second-secret', values), 'first-secret second-secret');
  });

  it('leaves text alone when nothing was decrypted, and ignores empty values', () => {
    assert.equal(maskSecrets('plain text', []), 'plain text');
    assert.equal(maskSecrets('plain text', ['']), 'plain text');
  });
});

describe('execution logger', () => {
  it("masks the execution's secrets in every line, message, field, error and child logger alike", () => {
    const t = testScope();
    const secret = 'hunter2-secret';
    t.scope.masked.add(secret);
    t.scope.logger.warn({ detail: `x ${secret} y`, nested: { list: [secret] } }, `failed with ${secret}`);
    t.scope.logger.error({ err: new Error(`boom ${Buffer.from(secret).toString('hex')}`) }, 'provider failed');
    t.scope.logger.child({ provider: 'p' }).info('%s', encodeURIComponent(secret));
    const text = JSON.stringify(t.logs);
    for (const form of secretForms(secret)) assert.ok(!text.includes(form), form);
    assert.equal(t.logs[0]?.msg, 'failed with [REDACTED]');
    assert.deepEqual(t.logs[0]?.nested, { list: ['[REDACTED]'] });
    assert.match(JSON.stringify(t.logs[1]?.err), /boom \[REDACTED\]/);
    assert.equal(t.logs[2]?.msg, '[REDACTED]');
  });

  it("binds masking to one execution: another execution's logger does not know its values", () => {
    const one = testScope();
    const other = testScope();
    one.scope.masked.add('abc-value');
    one.scope.logger.info('abc-value');
    other.scope.logger.info('abc-value');
    assert.equal(one.logs[0]?.msg, '[REDACTED]');
    assert.equal(other.logs[0]?.msg, 'abc-value');
  });
});

describe('objects holding secret bytes', () => {
  it('print [REDACTED] through util.inspect, JSON.stringify and String()', () => {
    const cache = new SecretCache({ ttlMs: 1000, maxEntries: 2 });
    const entry = cache.acquire(SecretCache.key('t', 'i', 'v'));
    entry.values.set('k', Buffer.from('plaintext-bytes'));
    for (const printed of [
      inspect(entry, { showHidden: true, depth: 5 }),
      inspect({ entry }, { depth: 5 }),
      JSON.stringify({ entry }),
      String(entry),
      `${entry}`,
      inspect(cache, { depth: 5 }),
      JSON.stringify(cache),
    ]) {
      assert.doesNotMatch(printed, /plaintext-bytes|cGxhaW50ZXh0/);
      assert.match(printed, /REDACTED/);
    }
    cache.release(entry);
    cache.clear();
  });
});
