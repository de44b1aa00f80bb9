import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { WitErr } from '../../host-calls/index.ts';
import { userProvider } from './index.ts';

describe('user provider', () => {
  const provider = userProvider.create();
  const user = {
    user_id: 'u-1',
    user_email: 'ada@example.com',
    user_name: 'Ada',
    user_type: 'internal',
    client_name: 'Acme',
  };

  it('returns the calling user with the tenant taken from the request context', () => {
    const t = testScope({ providers: ['cap:user.read'], user });
    assert.deepEqual(provider.functions.getUser(t.scope), {
      tenantId: 'tenant-1',
      clientName: 'Acme',
      userId: 'u-1',
      userEmail: 'ada@example.com',
      userName: 'Ada',
      userType: 'internal',
    });
  });

  it('fills absent optional fields with empty strings', () => {
    const t = testScope({ providers: ['cap:user.read'], user: { user_id: 'u-2' } });
    assert.deepEqual(provider.functions.getUser(t.scope), {
      tenantId: 'tenant-1',
      clientName: '',
      userId: 'u-2',
      userEmail: '',
      userName: '',
      userType: '',
    });
  });

  it('answers not-available when the request carries no user (an API-key call)', () => {
    const t = testScope({ providers: ['cap:user.read'] });
    assert.deepEqual(provider.functions.getUser(t.scope), new WitErr('not-available'));
  });

  it('answers not-allowed when cap:user.read is not granted, even with a user present', () => {
    assert.deepEqual(provider.denied('getUser', testScope({ user }).scope), new WitErr('not-allowed'));
  });
});
