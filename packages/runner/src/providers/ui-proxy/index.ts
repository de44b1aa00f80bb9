/**
 * `alga:extension/ui-proxy`: calls from the extension's UI routed through the
 * host. Requires `cap:ui.proxy`.
 *
 * NOT IMPLEMENTED YET in this runner version: the provider is registered so
 * every import of the world is supplied, and answers `denied` whether or not
 * the capability was granted.
 */
import { witErr, type ExecutionScope, type Provider } from '../types.ts';

export function createUiProxyProvider(): Provider {
  return {
    name: 'ui-proxy',
    iface: 'ui-proxy',
    capability: 'cap:ui.proxy',
    functions: {
      callRoute(scope: ExecutionScope) {
        scope.logger.debug({ provider: 'ui-proxy' }, 'ui-proxy is not available in this runner version yet');
        return witErr('denied');
      },
    },
    denied() {
      return witErr('denied');
    },
  };
}
