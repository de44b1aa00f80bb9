/**
 * `alga:extension/user`: the user on whose behalf the extension runs, when
 * the gateway supplies one (a browser session; an API key has no user).
 * Unlocked by `cap:user.read`. The tenant always comes from the request's
 * context, never from the user record, so the two cannot disagree.
 */
import type { ExecuteUser } from '@alga-psa/protocol';
import type { UserData } from '../../../generated/interfaces/alga-extension-types.js';
import { witErr } from '../../host-calls/index.ts';
import { defineRequestProvider } from '../types.ts';

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

export const userProvider = defineRequestProvider({
  iface: 'user',
  create: () => ({
    functions: {
      getUser(scope) {
        const { user, context } = scope.request;
        if (!user) return witErr('not-available');
        return userData(context.tenant_id, user);
      },
    },
    denied: () => witErr('not-allowed'),
  }),
});
