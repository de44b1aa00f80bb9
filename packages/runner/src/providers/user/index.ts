/**
 * `alga:extension/user`: the user on whose behalf the extension runs, when
 * the gateway supplies one (a browser session; an API key has no user).
 * Requires `cap:user.read`. The tenant always comes from the request's
 * context, never from the user record, so the two cannot disagree.
 */
import type { ExecuteUser } from '@alga-psa/protocol';
import { witErr, type ExecutionScope, type Provider } from '../types.ts';

/** The WIT `user-data` record as jco lowers it from JS. */
export interface UserData {
  tenantId: string;
  clientName: string;
  userId: string;
  userEmail: string;
  userName: string;
  userType: string;
}

export function userData(tenantId: string, user: ExecuteUser): UserData {
  return {
    tenantId,
    clientName: user.client_name ?? '',
    userId: user.user_id,
    userEmail: user.user_email ?? '',
    userName: user.user_name ?? '',
    userType: user.user_type ?? '',
  };
}

export function createUserProvider(): Provider {
  return {
    name: 'user',
    iface: 'user',
    capability: 'cap:user.read',
    functions: {
      getUser(scope: ExecutionScope) {
        const { user, context } = scope.request;
        if (!user) return witErr('not-available');
        return userData(context.tenant_id, user);
      },
    },
    denied() {
      return witErr('not-allowed');
    },
  };
}
