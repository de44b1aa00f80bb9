import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskSecrets, secretForms } from './redact.ts';

describe('maskSecrets', () => {
  it('masks the plain value and its base64, unpadded base64, base64url and URL-encoded forms', () => {
    const secret = 'k?y/+ v>';
    for (const form of secretForms(secret)) assert.equal(maskSecrets(`<${form}>`, [secret]), '<[REDACTED]>', form);
    assert.ok(secretForms(secret).includes('k%3Fy%2F%2B%20v%3E'));
    assert.ok(secretForms(secret).includes('k%3Fy%2F%2B+v%3E'), 'form-encoded spaces');
  });

  it('masks every occurrence of every value', () => {
    assert.equal(maskSecrets('a1 b2 a1', ['a1', 'b2']), '[REDACTED] [REDACTED] [REDACTED]');
  });

  it('masks a longer secret whole even when a shorter one is its substring', () => {
    assert.equal(maskSecrets('abcdef', ['abc', 'abcdef']), '[REDACTED]');
  });

  it('leaves text alone when nothing was decrypted, and ignores empty values', () => {
    assert.equal(maskSecrets('plain text', []), 'plain text');
    assert.equal(maskSecrets('plain text', ['']), 'plain text');
  });
});
