/**
 * `alga:extension/config`: the install's configuration, JSON-encoded per
 * value so every settings type crosses the boundary as a string. Requires
 * `cap:context.read`.
 */
import { witErr, type ExecutionScope, type Provider } from '../types.ts';

export function createConfigProvider(): Provider {
  return {
    name: 'config',
    iface: 'config',
    capability: 'cap:context.read',
    functions: {
      get(scope: ExecutionScope, key: string) {
        const { config } = scope.request;
        // Own properties only: `toString` is not a config key.
        if (!Object.hasOwn(config, key) || config[key] === undefined) return undefined;
        return JSON.stringify(config[key]);
      },
      getAll(scope: ExecutionScope) {
        return JSON.stringify(scope.request.config);
      },
    },
    denied() {
      return witErr('denied');
    },
  };
}
