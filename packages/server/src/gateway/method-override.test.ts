import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyMethodOverride } from './method-override.ts';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

test('a POST with __method in its JSON body becomes that method, without the field', () => {
  const out = applyMethodOverride({ method: 'POST', query: 'a=1', body: json({ __method: 'put', name: 'x' }) });
  assert.equal(out.method, 'PUT');
  assert.equal(out.query, 'a=1');
  assert.deepEqual(JSON.parse(out.body!.toString()), { name: 'x' });
});

test('the query override wins over the body and is removed from the query', () => {
  const out = applyMethodOverride({ method: 'POST', query: '__method=DELETE&b=2', body: json({ __method: 'PATCH' }) });
  assert.equal(out.method, 'DELETE');
  assert.equal(out.query, 'b=2');
});

test('a body left empty after removing the field, or an override to GET, sends no body', () => {
  assert.equal(applyMethodOverride({ method: 'POST', query: '', body: json({ __method: 'DELETE' }) }).body, undefined);
  const get = applyMethodOverride({ method: 'POST', query: '', body: json({ __method: 'GET', q: 1 }) });
  assert.equal(get.method, 'GET');
  assert.equal(get.body, undefined);
});

test('anything else is left exactly as it came', () => {
  for (const request of [
    { method: 'PUT', query: '__method=DELETE', body: json({ __method: 'DELETE' }) },
    { method: 'POST', query: '', body: json({ __method: 'TRACE' }) },
    { method: 'POST', query: '', body: Buffer.from('not json') },
    { method: 'POST', query: '', body: json(['__method', 'DELETE']) },
    { method: 'POST', query: '', body: undefined },
  ]) {
    assert.deepEqual(applyMethodOverride(request), request);
  }
});
