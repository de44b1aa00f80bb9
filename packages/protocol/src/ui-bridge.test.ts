import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromBase64, isBridgeRoute, isHostPath, parseFrameMessage, parseHostMessage, toBase64 } from './ui-bridge.ts';

const envelope = (type: string, payload: unknown, requestId?: string) => ({
  alga: true,
  version: '1',
  type,
  ...(requestId ? { request_id: requestId } : {}),
  payload,
});

test('routes stay below the extension: no dot segments, encoded slashes or dots, fragments or backslashes', () => {
  for (const ok of ['/', '/summary', '/a/b?x=1&y=../z', '/items/42']) assert.equal(isBridgeRoute(ok), true, ok);
  for (const bad of [
    'summary',
    '/../x',
    '/a/./b',
    '/a/%2e%2e/b',
    '/a%2fb',
    '/a\\b',
    '/a#b',
    '/a\nb',
    7,
    '/' + 'x'.repeat(3000),
  ]) {
    assert.equal(isBridgeRoute(bad), false, String(bad));
  }
  assert.equal(isHostPath('/msp/settings/extensions'), true);
  assert.equal(isHostPath('/client-portal/extensions/abc'), true);
  for (const bad of [
    '/client-portal/../msp/settings',
    '/client-portalx/',
    'https://evil.example/',
    '//evil.example',
    '/ui/api/session',
    '/msp/../ui/api',
    'javascript:alert(1)',
  ]) {
    assert.equal(isHostPath(bad), false, bad);
  }
});

test('frame messages: the reference apiproxy shape parses; anything else is undefined', () => {
  assert.deepEqual(parseFrameMessage(envelope('apiproxy', { route: '/x', body: 'e30=' }, 'r1')), {
    type: 'apiproxy',
    requestId: 'r1',
    route: '/x',
    method: undefined,
    body: 'e30=',
  });
  assert.equal(parseFrameMessage(envelope('apiproxy', { route: '/x' }, 'r1 with spaces')), undefined);
  assert.equal(parseFrameMessage(envelope('apiproxy', { route: '/x', method: 'TRACE' }, 'r1')), undefined);
  assert.equal(parseFrameMessage(envelope('apiproxy', { route: '/x', body: 'not base64!' }, 'r1')), undefined);
  assert.equal(parseFrameMessage(envelope('resize', { height: 'tall' })), undefined);
  assert.equal(parseFrameMessage(envelope('navigate', { to: 'https://evil.example' })), undefined);
  assert.equal(parseFrameMessage({ ...envelope('ready', {}), alga: 'yes' }), undefined);
  assert.equal(parseFrameMessage('ready'), undefined);
  assert.deepEqual(parseFrameMessage(envelope('ready', {})), { type: 'ready' });
});

test('host messages: a theme colour that could smuggle CSS, or a user without its fields, does not parse', () => {
  const colors = {
    background: '#fff',
    surface: '#fff',
    text: '#000',
    muted: '#555',
    primary: '#4f46e5',
    border: '#ddd',
  };
  const user = { name: 'Ada', email: 'ada@a.test', role: 'admin', tenant: 'a' };
  assert.equal(
    parseHostMessage(envelope('init', { extensionId: 'x', user, theme: { mode: 'light', colors } }))?.type,
    'init',
  );
  const smuggled = { ...colors, text: 'red; background: url(https://evil.example/)' };
  assert.equal(parseHostMessage(envelope('theme', { theme: { mode: 'light', colors: smuggled } })), undefined);
  assert.equal(
    parseHostMessage(envelope('init', { extensionId: 'x', user: { name: 'Ada' }, theme: { mode: 'light', colors } })),
    undefined,
  );
});

test('base64 round-trips bytes of every value', () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
});
