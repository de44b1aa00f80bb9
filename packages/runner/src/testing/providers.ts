/** The runner's real providers for in-process tests, with stand-ins for whatever a test does not give. */
import type { Decrypter } from '@alga-psa/transit';
import { createProviders, type Provider, type ProviderDeps } from '../providers/index.ts';
import { resolveSettings, type RunnerSettings } from '../settings.ts';

const noTransit: Decrypter = {
  decrypt: () => Promise.reject(new Error('no transit in this test')),
  ready: () => Promise.resolve(),
};

export function testProviders(settings: Partial<RunnerSettings> = {}, deps: Partial<ProviderDeps> = {}): Provider[] {
  return createProviders(resolveSettings(settings), {
    decrypter: noTransit,
    serverApi: undefined,
    metrics: undefined,
    ...deps,
  });
}
