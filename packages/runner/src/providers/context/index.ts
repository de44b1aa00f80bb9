/**
 * `alga:extension/context`: the ids of the current request. Requires
 * `cap:context.read` (granted to every install by default).
 */
import type { ExecuteContext } from '@alga-psa/protocol';
import { HostTrap, type ExecutionScope, type Provider } from '../types.ts';

/** The WIT `context-data` record as jco lifts it (options are `undefined` when absent). */
export interface ContextData {
  requestId: string | undefined;
  tenantId: string;
  extensionId: string;
  installId: string | undefined;
  versionId: string | undefined;
}

export function contextData(context: ExecuteContext): ContextData {
  return {
    requestId: context.request_id || undefined,
    tenantId: context.tenant_id,
    extensionId: context.extension_id,
    installId: context.install_id || undefined,
    versionId: context.version_id || undefined,
  };
}

export function createContextProvider(): Provider {
  return {
    name: 'context',
    iface: 'context',
    capability: 'cap:context.read',
    functions: {
      getContext: (scope: ExecutionScope) => contextData(scope.request.context),
    },
    denied() {
      // `get-context` has no error variant, so the only honest answer is a trap.
      throw new HostTrap('alga:extension/context.get-context requires the cap:context.read capability.');
    },
  };
}
