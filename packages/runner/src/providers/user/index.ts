/**
 * `alga:extension/user`: the user on whose behalf the request runs. Requires
 * `cap:user.read`.
 *
 * NOT IMPLEMENTED YET in this runner version: the execute request carries no
 * user yet, so the provider answers `not-allowed` when the capability is
 * missing and `not-available` when it is granted.
 */
import { witErr, type ExecutionScope, type Provider } from '../types.ts';

export function createUserProvider(): Provider {
  return {
    name: 'user',
    iface: 'user',
    capability: 'cap:user.read',
    functions: {
      getUser(scope: ExecutionScope) {
        scope.logger.debug({ provider: 'user' }, 'user is not available in this runner version yet');
        return witErr('not-available');
      },
    },
    denied() {
      return witErr('not-allowed');
    },
  };
}
