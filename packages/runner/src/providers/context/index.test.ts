import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { HostTrap } from '../../host-calls/index.ts';
import type { ContextData } from '../../../generated/interfaces/alga-extension-types.js';
import { contextProvider } from './index.ts';

describe('context provider', () => {
  const provider = contextProvider.create();

  it('returns the request ids as the WIT context-data record', () => {
    const { scope } = testScope();
    assert.deepEqual(provider.functions.getContext(scope), {
      requestId: 'req-1',
      tenantId: 'tenant-1',
      extensionId: 'ext-1',
      installId: 'install-1',
      versionId: 'ver-1',
    });
  });

  it('maps empty optional ids to none', () => {
    const base = testScope().scope.request.context;
    const { scope } = testScope({ context: { ...base, request_id: '', version_id: '' } });
    const data = provider.functions.getContext(scope) as ContextData;
    assert.equal(data.requestId, undefined);
    assert.equal(data.versionId, undefined);
  });

  it('traps with a message naming the capability when cap:context.read is missing', () => {
    const { scope } = testScope({ providers: [] });
    assert.throws(
      () => provider.denied('getContext', scope),
      (error: unknown) => {
        assert.ok(error instanceof HostTrap);
        assert.match(error.message, /cap:context\.read/);
        return true;
      },
    );
  });
});
