/**
 * Creates the per-execution scope handed to providers. Nothing in it outlives
 * the request: `close()` runs the providers' deferred clean-ups (e.g.
 * unpinning decrypted secrets) exactly once.
 */
import type { FastifyBaseLogger } from 'fastify';
import { isCapability, type Capability, type ExecuteRequest } from '@alga-psa/protocol';
import type { ExecutionScope } from './providers/types.ts';
import { MASK_VALUES } from './redact.ts';

export interface ClosableScope {
  scope: ExecutionScope;
  close(): void;
}

export function createScope(request: ExecuteRequest, logger: FastifyBaseLogger): ClosableScope {
  const deferred: Array<() => void> = [];
  const { context } = request;
  const secretValues = new Set<string>();
  const child = logger.child({
    request_id: context.request_id,
    tenant_id: context.tenant_id,
    extension_id: context.extension_id,
    install_id: context.install_id,
  });
  // Every line written through this logger (or its children) masks the
  // secrets this execution decrypted; the runner's root logger installs the
  // hook that reads this (see createLogger).
  Object.defineProperty(child, MASK_VALUES, { value: secretValues });
  const scope: ExecutionScope = {
    request,
    granted: new Set(request.providers.filter(isCapability) as Capability[]),
    logger: child,
    secretValues,
    memo: new Map(),
    defer(fn) {
      deferred.push(fn);
    },
  };
  let closed = false;
  return {
    scope,
    close() {
      if (closed) return;
      closed = true;
      for (const fn of deferred.reverse()) {
        try {
          fn();
        } catch (error) {
          scope.logger.error({ err: error }, 'execution clean-up failed');
        }
      }
      scope.secretValues.clear();
    },
  };
}
