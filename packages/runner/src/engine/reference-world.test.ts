/**
 * A component built as the reference host's authors build theirs: against
 * its unversioned `alga:extension` package and whole world (all twelve
 * interfaces imported), with every componentize-js feature disabled. It must
 * instantiate and run here although it imports interfaces its install was
 * never granted and some this platform does not provide.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExecuteResponse } from '@alga-psa/protocol';
import { ALL_FEATURES, buildFixture, REFERENCE_WORLD, referenceWorldWit } from '../testing/build-fixture.ts';
import { bodyOf, createHarness, executeRequest, type Harness } from '../testing/harness.ts';

const REFERENCE_GUEST = String.raw`
import { getContext } from 'alga:extension/context';
import { get as getSecret } from 'alga:extension/secrets';
import { fetch } from 'alga:extension/http';
import { get as storageGet } from 'alga:extension/storage';
import { logInfo } from 'alga:extension/logging';
import { callRoute } from 'alga:extension/ui-proxy';
import { getUser } from 'alga:extension/user';
import { getUser as getUserV2 } from 'alga:extension/user-v2';
import { listSchedules, createSchedule } from 'alga:extension/scheduler';
import { createManualInvoice } from 'alga:extension/invoicing';
import { getClient, listClients } from 'alga:extension/clients';
import { listServices } from 'alga:extension/services';

function attempt(fn) {
  try { return { ok: fn() }; } catch (e) { return { err: e.payload }; }
}

export function handler(request) {
  const url = request.http.url;
  let answer;
  if (url === '/context') {
    answer = { extensionId: getContext().extensionId };
  } else if (url === '/users') {
    answer = { v1: attempt(getUser), v2: attempt(getUserV2) };
  } else if (url === '/unused') {
    // Everything it imports but its install was not granted answers the deny path.
    answer = {
      secret: attempt(() => getSecret('k')),
      fetch: attempt(() => fetch({ method: 'GET', url: 'https://example.com/', headers: [], body: undefined })),
      storage: attempt(() => storageGet('ns', 'k')),
      proxy: attempt(() => callRoute('/api/x', undefined)),
    };
  } else {
    logInfo('calling the PSA interfaces');
    const schedule = createSchedule({ endpoint: '/x', cron: '* * * * *', timezone: undefined, enabled: undefined, name: undefined, payload: undefined });
    const invoice = createManualInvoice({ clientId: 'c', items: [], invoiceDate: undefined, dueDate: undefined, poNumber: undefined });
    answer = {
      listSchedules: attempt(listSchedules),
      createSchedule: { success: schedule.success, hasError: typeof schedule.error === 'string' },
      invoice: { success: invoice.success, hasError: typeof invoice.error === 'string' },
      getClient: attempt(() => getClient('c-1')),
      listClients: attempt(() => listClients({ search: undefined, includeInactive: undefined, page: undefined, pageSize: undefined })),
      listServices: attempt(() => listServices({ search: undefined, itemKind: undefined, isActive: undefined, billingMethod: undefined, page: undefined, pageSize: undefined })),
    };
  }
  return {
    status: 200,
    headers: [{ name: 'content-type', value: 'application/json' }],
    body: new TextEncoder().encode(JSON.stringify(answer)),
  };
}
`;

describe("a component built against the reference host's whole world", () => {
  let h: Harness;
  let hash: string;

  before(async () => {
    const component = await buildFixture(REFERENCE_GUEST, REFERENCE_WORLD, {
      wit: await referenceWorldWit(),
      disableFeatures: ALL_FEATURES,
    });
    h = await createHarness({ workers: 1 });
    hash = await h.bundleStore.put(component);
  });
  after(async () => {
    await h?.close();
  });

  async function call(path: string, overrides: Parameters<typeof executeRequest>[1] = {}) {
    const res = await h.execute(executeRequest(hash, { path, ...overrides }));
    assert.equal(res.statusCode, 200, res.body);
    const response = res.json<ExecuteResponse>();
    assert.equal(response.status, 200, Buffer.from(response.body_b64 ?? '', 'base64').toString());
    return bodyOf(response);
  }

  it('instantiates and runs with only the default capabilities', async () => {
    assert.deepEqual(await call('/context'), { extensionId: 'ext-1' });
  });

  it('answers every imported interface it was not granted with that interface’s deny variant', async () => {
    assert.deepEqual(await call('/unused'), {
      secret: { err: 'denied' },
      fetch: { err: 'not-allowed' },
      storage: { err: 'denied' },
      proxy: { err: 'denied' },
    });
  });

  it('answers the PSA interfaces with their own refusals and logs once per interface that they are not provided', async () => {
    const before = h.logs.length;
    assert.deepEqual(
      await call('/psa', {
        context: { ...executeRequest('x').context, content_hash: hash, request_id: 'req-psa' },
      }),
      {
        listSchedules: { err: 'denied' },
        createSchedule: { success: false, hasError: true },
        invoice: { success: false, hasError: true },
        getClient: { err: 'not-allowed' },
        listClients: { err: 'not-allowed' },
        listServices: { err: 'not-allowed' },
      },
    );
    const told = h.logs
      .slice(before)
      .filter((line) => line.request_id === 'req-psa' && String(line.msg).includes('is not provided by this platform'))
      .map((line) => line.provider)
      .sort();
    assert.deepEqual(told, ['clients', 'invoicing', 'scheduler', 'services']);
  });

  it('reads the user through user and user-v2, with the client id from the request, when cap:user.read is granted', async () => {
    const user = { user_id: 'u-1', user_name: 'Ada', user_type: 'client', client_name: 'Acme', client_id: 'client-7' };
    const granted = await call('/users', { providers: ['cap:context.read', 'cap:user.read'], user });
    assert.deepEqual(granted, {
      v1: {
        ok: {
          tenantId: 'tenant-1',
          clientName: 'Acme',
          userId: 'u-1',
          userEmail: '',
          userName: 'Ada',
          userType: 'client',
        },
      },
      v2: {
        ok: {
          tenantId: 'tenant-1',
          clientName: 'Acme',
          userId: 'u-1',
          userEmail: '',
          userName: 'Ada',
          userType: 'client',
          clientId: 'client-7',
          additionalFields: [],
        },
      },
    });
    const denied = await call('/users', { user });
    assert.deepEqual(denied, { v1: { err: 'not-allowed' }, v2: { err: 'not-allowed' } });
  });
});
