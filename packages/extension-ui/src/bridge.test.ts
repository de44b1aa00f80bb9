import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BRIDGE_VERSION, hostEnvelope, parseFrameMessage } from '@alga-psa/protocol/ui-bridge';
import { HostConnection, hostOrigin } from './bridge.ts';

const HOST = 'https://alga.example';

/** A stand-in for the iframe's window: records what it posts, lets a test deliver messages. */
function fakeFrame(search = `?parentOrigin=${encodeURIComponent(HOST)}`) {
  const listeners: ((event: MessageEvent) => void)[] = [];
  const posted: { data: unknown; target: string }[] = [];
  const parent = { postMessage: (data: unknown, target: string) => posted.push({ data, target }) };
  const win = {
    parent,
    location: { search } as Location,
    addEventListener: (_type: string, listener: (event: MessageEvent) => void) => listeners.push(listener),
    removeEventListener: () => {},
  };
  const deliver = (data: unknown, origin = HOST, source: unknown = parent) =>
    listeners.forEach((listener) => listener({ data, origin, source } as MessageEvent));
  return { win: win as unknown as ConstructorParameters<typeof HostConnection>[0], posted, deliver, parent };
}

const theme = {
  mode: 'light' as const,
  colors: { background: '#fff', surface: '#fff', text: '#000', muted: '#555', primary: '#4f46e5', border: '#ddd' },
};
const user = { name: 'Ada', email: 'ada@a.test', role: 'admin', tenant: 'a' };

test('the host origin comes from parentOrigin; a page that is not framed has none', () => {
  assert.equal(hostOrigin(fakeFrame().win), HOST);
  const top = fakeFrame();
  (top.win as { parent: unknown }).parent = top.win;
  assert.equal(hostOrigin(top.win), undefined);
  assert.equal(hostOrigin(fakeFrame('?parentOrigin=null').win), undefined);
});

test('the page says ready to the host origin only, and reads init only from the parent at that origin', async () => {
  const frame = fakeFrame();
  const connection = new HostConnection(frame.win, HOST);
  assert.deepEqual(frame.posted, [
    { data: { alga: true, version: BRIDGE_VERSION, type: 'ready', payload: {} }, target: HOST },
  ]);
  const init = hostEnvelope({ type: 'init', extensionId: 'x', user, theme });
  // Wrong origin, wrong source, wrong shape: all ignored.
  frame.deliver(
    hostEnvelope({ type: 'init', extensionId: 'x', user: { ...user, name: 'Mallory' }, theme }),
    'https://evil.example',
  );
  frame.deliver({ ...init, payload: { ...(init.payload as object), user: { ...user, name: 'Mallory' } } }, HOST, {});
  frame.deliver({ ...init, version: '2' });
  frame.deliver(init);
  assert.equal((await connection.ready).user.name, 'Ada');
  connection.close();
});

test('a proxy call posts the reference apiproxy shape and settles on its own answer only', async () => {
  const frame = fakeFrame();
  const connection = new HostConnection(frame.win, HOST);
  const call = connection.request('/summary', { method: 'POST', body: new TextEncoder().encode('{"days":3}') });
  const sent = parseFrameMessage(frame.posted[1]!.data);
  assert.ok(sent?.type === 'apiproxy');
  assert.equal(frame.posted[1]!.target, HOST);
  assert.equal(atob(sent.body!), '{"days":3}');
  const answer = (requestId: string, text: string) =>
    hostEnvelope({
      type: 'apiproxy_response',
      requestId,
      status: 200,
      body: btoa(text),
      error: undefined,
      code: undefined,
    });
  frame.deliver(answer(sent.requestId, '"forged"'), 'https://evil.example');
  frame.deliver(answer('someone-else', '"other"'));
  frame.deliver(answer(sent.requestId, '{"ok":true}'));
  const result = await call;
  assert.equal(result.status, 200);
  assert.equal(new TextDecoder().decode(result.body), '{"ok":true}');
  connection.close();
});
