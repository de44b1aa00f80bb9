/**
 * `alga:extension/http`: outbound HTTP for the guest. Requires `cap:http.fetch`.
 *
 * NOT IMPLEMENTED YET in this runner version: the provider is registered so
 * every import of the world is supplied, and answers `not-allowed` whether or
 * not the capability was granted. The real backend (allow-listed hosts,
 * size and time limits) will live in this folder.
 */
import { witErr, type ExecutionScope, type Provider } from '../types.ts';

export function createHttpProvider(): Provider {
  return {
    name: 'http',
    iface: 'http',
    capability: 'cap:http.fetch',
    functions: {
      fetch(scope: ExecutionScope) {
        scope.logger.debug({ provider: 'http' }, 'http.fetch is not available in this runner version yet');
        return witErr('not-allowed');
      },
    },
    denied() {
      return witErr('not-allowed');
    },
  };
}
