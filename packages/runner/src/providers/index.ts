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
import { witErr } from '../host-calls/index.ts';
import type { Provider, ProviderDefinition, ProviderDeps, ProviderImpl, StandIns } from './types.ts';

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
    // Keyed by interface name; the reference host's interfaces have no stand-ins.
    const standIn =
      definition.placement === 'host' && definition.ownsStandIn
        ? undefined
        : (deps.standIns as Record<string, StandIns[keyof StandIns]> | undefined)?.[definition.iface];
    return provider(definition, standIn ? withStandIn(impl as ProviderImpl, standIn) : (impl as ProviderImpl));
  });
}

/** The real provider with some functions answered by a stand-in; a thrown `{ payload }` is the WIT error case. */
function withStandIn(
  impl: ProviderImpl,
  standIn: Record<string, ((...args: never[]) => unknown) | undefined>,
): ProviderImpl {
  const functions: Record<string, unknown> = { ...impl.functions };
  for (const [name, fn] of Object.entries(standIn)) {
    if (!fn) continue;
    functions[name] = async (_scope: unknown, ...args: never[]) => {
      try {
        return await fn(...args);
      } catch (error) {
        const payload = (error as { payload?: unknown }).payload;
        if (typeof payload === 'string') return witErr(payload);
        throw error;
      }
    };
  }
  // Prefetched answers would come from the real backend, not from the stand-in.
  const { prefetch: _prefetch, ...rest } = impl;
  return { ...rest, functions: functions as ProviderImpl['functions'] };
}

export { createRequestProviders } from './request.ts';
export type { Provider, ProviderDeps, StandIns } from './types.ts';
