/**
 * The runner's capability providers, in ONE ordered list. Adding a
 * capability means its folder next to this file, one line below (or in
 * request.ts, for a provider that answers from the request alone), the WIT
 * interface in wit/, and its row in protocol's capability table.
 */
import { clientsProvider } from './clients/index.ts';
import { httpProvider } from './http/index.ts';
import { invoicingProvider } from './invoicing/index.ts';
import { loggingProvider } from './logging/index.ts';
import { provider, REQUEST_PROVIDERS } from './request.ts';
import { schedulerProvider } from './scheduler/index.ts';
import { secretsProvider } from './secrets/index.ts';
import { servicesProvider } from './services/index.ts';
import { storageProvider } from './storage/index.ts';
import { uiProxyProvider } from './ui-proxy/index.ts';
import type { Provider, ProviderDefinition, ProviderDeps, ProviderImpl } from './types.ts';

export const PROVIDERS = [
  ...REQUEST_PROVIDERS,
  secretsProvider,
  httpProvider,
  storageProvider,
  loggingProvider,
  uiProxyProvider,
  schedulerProvider,
  invoicingProvider,
  clientsProvider,
  servicesProvider,
] as const satisfies readonly ProviderDefinition[];

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

export { createRequestProviders } from './request.ts';
export type { Provider, ProviderDeps } from './types.ts';
