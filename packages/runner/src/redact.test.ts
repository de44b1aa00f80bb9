import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { toExecuteResponse } from './engine/convert.ts';
import { SecretCache } from './providers/secrets/cache.ts';
import { addMasked, maskDeep, maskSecrets, REDACTED, secretForms, sortedForms } from './redact.ts';
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

  it('masks with forms handed in by their keeper as with forms it computes, one value or several', () => {
    const known = new Set<string>();
    addMasked(known, 'abcdef', sortedForms('abcdef'));
    const computed = new Set(['abcdef']);
    for (const form of secretForms('abcdef')) {
      assert.equal(maskSecrets(`<${form}>`, known), maskSecrets(`<${form}>`, computed), form);
    }
    // A second value without known forms, shorter and inside the first: the longer still masks whole.
    addMasked(known, 'abc');
    assert.equal(maskSecrets('abcdef abc', known), '[REDACTED] [REDACTED]');
  });

  it('leaves text alone when nothing was decrypted, and ignores empty values', () => {
    assert.equal(maskSecrets('plain text', []), 'plain text');
    assert.equal(maskSecrets('plain text', ['']), 'plain text');
  });
});

/**
 * Exactly what docs/security.md ("What secret masking covers") says is masked
 * and what is not. If masking learns or loses a form, this fails and the
 * document is updated with it.
 */
describe('what masking covers, as docs/security.md states it', () => {
  // Every form differs from every other: base64 has padding and `/` (so base64url differs),
  // hex has letters, URL-encoding has a space (so the `+` form differs).
  const secret = 'Tr0ub4dor&3 x>?~y';
  const bytes = Buffer.from(secret, 'utf8');
  const base64 = bytes.toString('base64');
  const hex = bytes.toString('hex');
  const masked = new Set([secret]);
  const mask = (text: string) => maskSecrets(text, masked);

  it('masks exactly these forms, anywhere in a line', () => {
    const listed = {
      exact: secret,
      'base64, padded': base64,
      'base64, unpadded': base64.replace(/=+$/, ''),
      base64url: bytes.toString('base64url'),
      'hex, lower case': hex,
      'hex, upper case': hex.toUpperCase(),
      'URL-encoded': encodeURIComponent(secret),
      'URL-encoded, + for spaces': encodeURIComponent(secret).replace(/%20/g, '+'),
    };
    assert.equal(new Set(Object.values(listed)).size, 8, 'the fixture secret makes every form distinct');
    assert.deepEqual(new Set(secretForms(secret)), new Set(Object.values(listed)), 'secretForms is this list');
    for (const [name, form] of Object.entries(listed)) {
      assert.equal(mask(`before ${form} after`), `before ${REDACTED} after`, name);
    }
    // Hex and URL-encoding work byte by byte: a longer text encoded whole still holds the value's form.
    assert.equal(mask(Buffer.from(`id=${secret};`).toString('hex')), `69643d${REDACTED}3b`);
    assert.equal(mask(encodeURIComponent(`a ${secret} b`)), `a%20${REDACTED}%20b`);
  });

  it('leaves every other transform of the value as it is', () => {
    const notMasked = {
      reversed: [...secret].reverse().join(''),
      'split in two': `${secret.slice(0, 8)} ${secret.slice(8)}`,
      'first half alone': secret.slice(0, 8),
      'upper-cased': secret.toUpperCase(),
      'lower-cased': secret.toLowerCase(),
      'hex in mixed case': hex.replace(/[a-f]/, (c) => c.toUpperCase()),
      'char codes': [...secret].map((c) => c.charCodeAt(0)).join(','),
      'base64 at an offset': Buffer.from(`x${secret}`).toString('base64'),
      'base64 inside a Basic credential': Buffer.from(`user:${secret}`).toString('base64'),
      'base64 of the reversed value': Buffer.from([...secret].reverse().join('')).toString('base64'),
      'percent-encoding with lower-case digits': encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) =>
        m.toLowerCase(),
      ),
      'JSON \\u escapes': [...secret].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
    };
    for (const [name, text] of Object.entries(notMasked)) {
      assert.ok(!secretForms(secret).some((form) => text.includes(form)), `${name} holds no listed form`);
      assert.equal(mask(`leak ${text}`), `leak ${text}`, name);
    }
  });

  it("masks a thrown error's message and stack by the same forms: a reversed copy in the stack stays", () => {
    const reversed = [...secret].reverse().join('');
    const error = new Error(`failed with ${secret}`);
    error.stack = `Error: failed with ${secret}\n    at handler (${reversed})`;
    assert.deepEqual(maskDeep({ err: error }, masked), {
      err: {
        type: 'Error',
        message: `failed with ${REDACTED}`,
        stack: `Error: failed with ${REDACTED}\n    at handler (${reversed})`,
      },
    });
  });

  it("walks a runner log call's arguments 7 objects deep; strings nested deeper are written as they are", () => {
    const nest = (levels: number): unknown => {
      let value: unknown = secret;
      for (let i = 0; i < levels; i++) value = { d: value };
      return value;
    };
    assert.ok(!JSON.stringify(maskDeep(nest(7), masked)).includes(secret));
    assert.ok(JSON.stringify(maskDeep(nest(8), masked)).includes(secret));
  });

  it('masks response header values, not header names, and never the body', () => {
    const body = new TextEncoder().encode(`body ${secret}`);
    const answer = toExecuteResponse(
      {
        status: 200,
        headers: [
          { name: 'x-ext-token', value: `Bearer ${secret}` },
          { name: 'x-ext-hex', value: hex },
          { name: `x-ext-${bytes.toString('hex')}`, value: 'named after it' },
        ],
        body,
      },
      mask,
    );
    assert.deepEqual(answer.headers, {
      'x-ext-token': `Bearer ${REDACTED}`,
      'x-ext-hex': REDACTED,
      [`x-ext-${hex}`]: 'named after it',
    });
    assert.equal(Buffer.from(answer.body_b64!, 'base64').toString('utf8'), `body ${secret}`);
  });

  it('knows only the values given: a secret the execution has not read is not masked', () => {
    assert.equal(maskSecrets(`leak ${secret}`, new Set(['another-value'])), `leak ${secret}`);
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
