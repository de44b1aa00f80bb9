/**
 * What the in-thread jco rows give the realistic component: one request and
 * the host's imports answering from HOST_DATA (bench/engine.ts, and
 * bench/glue-floor.ts's glue comparison).
 */
import { guestValue } from '../../packages/runner/src/engine/jco-glue.ts';
import { createWasiHost } from '../../packages/runner/src/wasi/index.ts';
import { HOST_DATA } from './guest-source.ts';

export const BENCH_REQUEST = {
  context: {
    requestId: 'r',
    tenantId: 'tenant-bench',
    extensionId: 'bench-realistic',
    installId: 'install-bench',
    versionId: '1',
  },
  http: { method: 'GET', url: '/work', headers: [], body: undefined },
};

export type HostImports = Record<string, Record<string, (...args: never[]) => unknown>>;

/** The host's imports, each call answered at once from HOST_DATA; a new object per instance. */
export function jcoHostImports(): HostImports {
  return {
    'alga:extension/context': { getContext: () => JSON.parse(HOST_DATA.context) },
    'alga:extension/config': { get: () => undefined, getAll: () => HOST_DATA.config },
    'alga:extension/secrets': {
      get: () => HOST_DATA.secret,
      listKeys: () => ['api_token'],
      // WIT 0.3.0's secret handles: the handler uses neither, the glue needs both to instantiate.
      handle: () => guestValue('secrets', 'handle', { kind: 'err', payload: 'missing' }),
      egressHosts: () => [],
    },
    'alga:extension/logging': { logInfo: () => {}, logWarn: () => {}, logError: () => {} },
    'alga:extension/random': { getRandomBytes: (n: number) => crypto.getRandomValues(new Uint8Array(n)) },
    // The ambient WASI clocks, as the runner gives every guest (the handler sets no timer).
    ...(createWasiHost({ wait: () => {}, stderr: () => {} }).imports as HostImports),
  };
}
