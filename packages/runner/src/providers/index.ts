/**
 * The runner's capability providers, in ONE ordered list. Adding a
 * capability means its folder next to this file, one line below, the WIT
 * interface in wit/, and its row in protocol's capability table.
 */
import { capabilityForInterface, type Capability, type WorldInterface } from '@alga-psa/protocol';
import type { RequestScope } from '../host-calls/scope.ts';
import { configProvider } from './config/index.ts';
import { contextProvider } from './context/index.ts';
import { httpProvider } from './http/index.ts';
import { loggingProvider } from './logging/index.ts';
import { randomProvider } from './random/index.ts';
import { secretsProvider } from './secrets/index.ts';
import { storageProvider } from './storage/index.ts';
import { uiProxyProvider } from './ui-proxy/index.ts';
import { userProvider } from './user/index.ts';
import type { Provider, ProviderDefinition, ProviderDeps, ProviderImpl } from './types.ts';

export const PROVIDERS = [
  contextProvider,
  configProvider,
  randomProvider,
  userProvider,
  secretsProvider,
  httpProvider,
  storageProvider,
  loggingProvider,
  uiProxyProvider,
] as const satisfies readonly ProviderDefinition[];

function capabilityOf(iface: WorldInterface): Capability {
  const capability = capabilityForInterface(iface);
  // Unreachable while `iface` is typed from the table; a guard for a provider added without its row.
  if (!capability) throw new Error(`No capability in protocol's table unlocks alga:extension/${iface}.`);
  return capability;
}

function provider<Scope>(definition: ProviderDefinition, impl: ProviderImpl<WorldInterface, Scope>): Provider<Scope> {
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
  return PROVIDERS.flatMap((definition) =>
    definition.placement === 'request'
      ? [provider(definition, definition.create() as ProviderImpl<WorldInterface, RequestScope>)]
      : [],
  );
}

/**
 * Every provider, for the runner's main thread, each built from its section
 * of `settings` (see settings.ts) and the shared dependencies.
 */
export function createProviders(settings: object, deps: ProviderDeps): Provider[] {
  return PROVIDERS.map((definition) => {
    const impl =
      definition.placement === 'request'
        ? definition.create()
        : definition.create({ settings: settings as never, deps });
    return provider(definition, impl as ProviderImpl);
  });
}

export type { Provider, ProviderDeps } from './types.ts';
