import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EndpointDefinition } from '@alga-psa/protocol';
import { matchEndpoint } from './match.ts';

const endpoints: EndpointDefinition[] = [
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/items/:id' },
  { method: 'GET', path: '/items/new' },
  { method: 'POST', path: '/items' },
];

test('matches literal paths, the root and :param segments', () => {
  assert.equal(matchEndpoint(endpoints, 'GET', '/')?.endpoint.path, '/');
  assert.deepEqual(matchEndpoint(endpoints, 'GET', '/items/42')?.params, { id: '42' });
  assert.equal(matchEndpoint(endpoints, 'post', '/items/')?.endpoint.path, '/items');
});

test('a literal segment wins over a :param segment', () => {
  assert.equal(matchEndpoint(endpoints, 'GET', '/items/new')?.endpoint.path, '/items/new');
});

test('method and segment count must match', () => {
  assert.equal(matchEndpoint(endpoints, 'DELETE', '/items/42'), undefined);
  assert.equal(matchEndpoint(endpoints, 'GET', '/items/42/extra'), undefined);
  assert.equal(matchEndpoint(endpoints, 'GET', '/other'), undefined);
});

test('HEAD matches the GET endpoint, and no other method stands in for another', () => {
  assert.equal(matchEndpoint(endpoints, 'HEAD', '/items/42')?.endpoint.path, '/items/:id');
  assert.equal(matchEndpoint(endpoints, 'HEAD', '/items'), undefined);
});
