/**
 * `alga:extension/user-v2`: the reference host's second user record, which
 * adds the user's client (set for a client-portal user) and extra fields.
 * Unlocked by `cap:user.read`, like `user`, and answers the same way.
 * `additional-fields` is always empty: the gateway supplies none (nor does
 * the reference host's).
 */
import type { UserDataV2 } from '../../../generated/interfaces/alga-extension-types.js';
import { witErr, type WitErr } from '../../host-calls/index.ts';
import { defineRequestProvider } from '../types.ts';
import { userData } from '../user/index.ts';

export const userV2Provider = defineRequestProvider({
  iface: 'user-v2',
  create: () => ({
    functions: {
      getUser(scope): UserDataV2 | WitErr {
        const { user, context } = scope.request;
        if (!user) return witErr('not-available');
        return {
          ...userData(context.tenant_id, user),
          ...(user.client_id ? { clientId: user.client_id } : {}),
          additionalFields: [],
        };
      },
    },
    denied: () => witErr('not-allowed'),
  }),
});
