/**
 * The providers that answer from the request alone, and how a definition
 * becomes a provider. Kept apart from index.ts so a worker thread, which
 * answers only these itself, does not load the host providers' modules:
 * their dependencies (transit, undici, TypeBox's value checks) were a third
 * of every worker's boot (docs/perf/032-spare-worker.md).
 */
import { capabilityForInterface, REFERENCE_INTERFACES, type Capability } from '@alga-psa/protocol';
import type { RequestScope } from '../host-calls/scope.ts';
import { configProvider } from './config/index.ts';
import { contextProvider } from './context/index.ts';
import { randomProvider } from './random/index.ts';
import type { HostedInterface, Provider, ProviderDefinition, ProviderImpl } from './types.ts';
import { userProvider } from './user/index.ts';
import { userV2Provider } from './user-v2/index.ts';

export const REQUEST_PROVIDERS = [
  contextProvider,
  configProvider,
  randomProvider,
  userProvider,
  userV2Provider,
] as const satisfies readonly ProviderDefinition[];

function capabilityOf(iface: HostedInterface): Capability | undefined {
  const capability = capabilityForInterface(iface);
  // A reference interface this platform does not provide has none on purpose; any other must have its row.
  if (!capability && !Object.hasOwn(REFERENCE_INTERFACES, iface)) {
    throw new Error(`No capability in protocol's table unlocks alga:extension/${iface}.`);
  }
  return capability;
}

/** A provider from its definition and the implementation its `create` made. */
export function provider<Scope>(
  definition: ProviderDefinition,
  impl: ProviderImpl<HostedInterface, Scope>,
): Provider<Scope> {
  const traits = definition.placement === 'host' ? definition : undefined;
  return {
    ...impl,
    iface: definition.iface,
    capability: capabilityOf(definition.iface),
    placement: definition.placement,
    oneWay: traits?.oneWay ?? false,
    warmUp: (traits?.warmUp ?? {}) as Record<string, unknown>,
  };
}

/** The providers whose answers depend on the request alone, for a thread that answers them itself. */
export function createRequestProviders(): Provider<RequestScope>[] {
  return REQUEST_PROVIDERS.map((definition) =>
    provider(definition, definition.create() as ProviderImpl<HostedInterface, RequestScope>),
  );
}
