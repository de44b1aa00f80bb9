/**
 * Conversions from the protocol's records to the WIT `types` records, shared
 * by the engine (the handler's `execute-request`) and the providers.
 */
import type { ExecuteContext } from '@alga-psa/protocol';
import type { ContextData } from '../generated/interfaces/alga-extension-types.js';

/** The WIT `context-data` record as jco lowers it (an absent option is `undefined`). */
export function contextData(context: ExecuteContext): ContextData {
  return {
    requestId: context.request_id || undefined,
    tenantId: context.tenant_id,
    extensionId: context.extension_id,
    installId: context.install_id || undefined,
    versionId: context.version_id || undefined,
  };
}
