/**
 * `alga:extension/config`: the install's configuration, JSON-encoded per
 * value so every settings type crosses the boundary as a string. Unlocked by
 * `cap:context.read`.
 */
import { witErr } from '../../host-calls/index.ts';
import { defineRequestProvider } from '../types.ts';

export const configProvider = defineRequestProvider({
  iface: 'config',
  create: () => ({
    functions: {
      get(scope, key) {
        const { config } = scope.request;
        // Own properties only: `toString` is not a config key.
        if (!Object.hasOwn(config, key) || config[key] === undefined) return undefined;
        return JSON.stringify(config[key]);
      },
      getAll: (scope) => JSON.stringify(scope.request.config),
    },
    denied: () => witErr('denied'),
  }),
});
