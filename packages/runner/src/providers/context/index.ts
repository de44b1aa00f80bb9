/**
 * `alga:extension/context`: the ids of the current request. Unlocked by
 * `cap:context.read` (granted to every install by default).
 */
import { HostTrap } from '../../host-calls/index.ts';
import { contextData } from '../../wit-records.ts';
import { defineRequestProvider } from '../types.ts';

export const contextProvider = defineRequestProvider({
  iface: 'context',
  create: () => ({
    functions: {
      getContext: (scope) => contextData(scope.request.context),
    },
    denied() {
      // `get-context` has no error variant, so the only honest answer is a trap.
      throw new HostTrap('alga:extension/context.get-context requires the cap:context.read capability.');
    },
  }),
});
