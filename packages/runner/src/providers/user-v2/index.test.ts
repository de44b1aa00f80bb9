import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { WitErr } from '../../host-calls/index.ts';
import { userV2Provider } from './index.ts';

describe('user-v2 provider', () => {
  const provider = userV2Provider.create();
  const user = {
    user_id: 'u-1',
    user_email: 'ada@example.com',
    user_name: 'Ada',
    user_type: 'client',
    client_name: 'Acme',
    client_id: 'client-7',
  };

  it("returns the calling user with the client id from the request's user and no additional fields", () => {
    const t = testScope({ providers: ['cap:user.read'], user });
    assert.deepEqual(provider.functions.getUser(t.scope), {
      tenantId: 'tenant-1',
      clientName: 'Acme',
      userId: 'u-1',
      userEmail: 'ada@example.com',
      userName: 'Ada',
      userType: 'client',
      clientId: 'client-7',
      additionalFields: [],
    });
  });

  it('leaves the client id out when the user has none', () => {
    const t = testScope({ providers: ['cap:user.read'], user: { user_id: 'u-2' } });
    const answer = provider.functions.getUser(t.scope) as unknown as Record<string, unknown>;
    assert.equal(answer.clientId, undefined);
    assert.equal(answer.userId, 'u-2');
  });

  it('answers not-available without a user and not-allowed without cap:user.read', () => {
    assert.deepEqual(
      provider.functions.getUser(testScope({ providers: ['cap:user.read'] }).scope),
      new WitErr('not-available'),
    );
    assert.deepEqual(provider.denied('getUser', testScope({ user }).scope), new WitErr('not-allowed'));
  });
});
