import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDispatcher } from '../host-calls/index.ts';
import { testProviders } from '../testing/providers.ts';
import { testScope } from '../testing/scope.ts';

describe("the reference host's PSA interfaces (linked, not provided)", () => {
  const dispatch = createDispatcher(testProviders());
  // Granting the reference host's capability ids changes nothing: no capability here unlocks them.
  const everything = ['cap:scheduler.manage', 'cap:invoice.manual.create', 'cap:client.read', 'cap:service.read'];

  const cases: Array<[string, string, unknown[], unknown]> = [
    ['clients', 'listClients', [{}], { kind: 'err', payload: 'not-allowed' }],
    ['clients', 'getClient', ['c-1'], { kind: 'err', payload: 'not-allowed' }],
    ['services', 'listServices', [{}], { kind: 'err', payload: 'not-allowed' }],
    ['services', 'getService', ['s-1'], { kind: 'err', payload: 'not-allowed' }],
    ['scheduler', 'listSchedules', [], { kind: 'err', payload: 'denied' }],
    ['scheduler', 'getSchedule', ['x'], { kind: 'err', payload: 'denied' }],
    ['scheduler', 'getEndpoints', [], { kind: 'err', payload: 'denied' }],
  ];
  for (const [iface, fn, args, expected] of cases) {
    it(`${iface}.${fn} answers its own refusal variant`, async () => {
      const t = testScope({ providers: [] });
      assert.deepEqual(await dispatch(t.scope, iface, fn, args), expected);
    });
  }

  it('answers the record-shaped functions with success: false and the reason', async () => {
    const t = testScope({ providers: [] });
    for (const [iface, fn, args] of [
      ['scheduler', 'createSchedule', [{ endpoint: '/x', cron: '* * * * *' }]],
      ['scheduler', 'updateSchedule', ['x', {}]],
      ['scheduler', 'deleteSchedule', ['x']],
      ['invoicing', 'createManualInvoice', [{ clientId: 'c', items: [] }]],
    ] as const) {
      const outcome = await dispatch(t.scope, iface, fn, [...args]);
      assert.equal(outcome.kind, 'ok', `${iface}.${fn}`);
      const value = (outcome as { value: { success: boolean; error: string } }).value;
      assert.equal(value.success, false);
      assert.match(value.error, new RegExp(`alga:extension/${iface} .* is not provided by this platform`));
    }
  });

  it('refuses even when the reference capability id is granted', async () => {
    const t = testScope({ providers: everything });
    assert.deepEqual(await dispatch(t.scope, 'clients', 'getClient', ['c-1']), { kind: 'err', payload: 'not-allowed' });
  });

  it('logs one line per interface per execution saying the platform does not provide it', async () => {
    const t = testScope({ providers: [] });
    for (let i = 0; i < 5; i++) await dispatch(t.scope, 'clients', 'listClients', [{}]);
    await dispatch(t.scope, 'services', 'getService', ['s']);
    const lines = t.logs.filter((line) => String(line.msg).includes('is not provided by this platform'));
    assert.deepEqual(
      lines.map((line) => [line.provider, line.level]),
      [
        ['clients', 40],
        ['services', 40],
      ],
    );
    assert.match(String(lines[0]!.msg), /^alga:extension\/clients \(cap:client\.read on the reference host\)/);
    assert.equal(lines[0]!.tenant_id, 'tenant-1');
  });
});
