/**
 * `alga:extension/storage`: the install's key-value storage. Requires
 * `cap:storage.kv`.
 *
 * NOT IMPLEMENTED YET in this runner version: the provider is registered so
 * every import of the world is supplied, and answers `denied` whether or not
 * the capability was granted. The real backend (the server's storage API)
 * will live in this folder.
 */
import { witErr, type ExecutionScope, type Provider } from '../types.ts';

function notYet(fn: string) {
  return (scope: ExecutionScope) => {
    scope.logger.debug({ provider: 'storage', fn }, 'storage is not available in this runner version yet');
    return witErr('denied');
  };
}

export function createStorageProvider(): Provider {
  return {
    name: 'storage',
    iface: 'storage',
    capability: 'cap:storage.kv',
    functions: {
      get: notYet('get'),
      put: notYet('put'),
      delete: notYet('delete'),
      listEntries: notYet('listEntries'),
      listPage: notYet('listPage'),
    },
    denied() {
      return witErr('denied');
    },
  };
}
