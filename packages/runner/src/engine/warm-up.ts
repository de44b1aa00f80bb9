/**
 * Warm-up: one call into a new instance, before its reset snapshot is taken,
 * that does the guest's first-call work (SpiderMonkey's shapes and atoms,
 * the bindings' and the SDK's first run) once per instance instead of on
 * every request. The protocol is in wit/README.md, "Warm-up".
 *
 * Why: a reset puts the instance back into the state its snapshot holds, so
 * without warm-up every request starts from a never-called engine. On the
 * realistic bench handler that roughly doubles the handler's time.
 *
 * Safety: the extension's code does not run (the SDK answers the call with a
 * built-in handler), and the host answers the call's imports without any
 * tenant's data: a synthetic context, empty config, `missing` secrets,
 * dropped log lines, fresh random bytes, and a trap for anything else. A
 * guest that answers anything but the agreed 204 has run code nobody
 * vetted, so its instance is discarded and its component is served without
 * warm-up from then on.
 */
import { CAPABILITIES, type Capability, type ExecuteContext } from '@alga-psa/protocol';
import { contextData } from '../providers/context/index.ts';
import { createLocalDispatcher, type HostOutcome, type LocalScope } from '../providers/index.ts';
import type { WitExecuteRequest, WitExecuteResponse } from '../world.ts';

/** The header the guest's warm-up answer carries. */
export const WARM_UP_HEADER = 'alga-warm-up';

/** What a component instance exposes for warm-up (jco's root object). */
export interface WarmableRoot {
  handler(request: WitExecuteRequest): WitExecuteResponse | Promise<WitExecuteResponse>;
  warmUp?: () => void;
}

const SYNTHETIC_CONTEXT: ExecuteContext = {
  request_id: 'warm-up',
  tenant_id: '',
  extension_id: '',
  install_id: '',
  content_hash: '',
  version_id: '',
};

/** The request the warm-up call carries: no tenant, no data. */
export const WARM_UP_REQUEST: WitExecuteRequest = {
  context: contextData(SYNTHETIC_CONTEXT),
  http: { method: 'GET', url: '/', headers: [], body: undefined },
};

/** context, config and random answer through their real providers, from the synthetic request. */
const SCOPE: LocalScope = {
  request: { context: SYNTHETIC_CONTEXT, config: {} },
  granted: new Set(Object.keys(CAPABILITIES) as Capability[]),
};
const localDispatch = createLocalDispatcher();

/** The host's answer to a guest's import call during warm-up. */
export function warmUpHostCall(iface: string, fn: string, args: unknown[]): HostOutcome {
  const local = localDispatch(SCOPE, iface, fn, args);
  if (local) return local;
  if (iface === 'logging') return { kind: 'ok', value: undefined };
  if (iface === 'secrets' && fn === 'get') return { kind: 'err', payload: 'missing' };
  if (iface === 'secrets' && fn === 'listKeys') return { kind: 'ok', value: [] };
  return { kind: 'trap', message: `alga:extension/${iface}.${fn} is not available during warm-up.` };
}

export type WarmUpResult =
  /** The component has no `warm-up` export: nothing was called. */
  | { outcome: 'unsupported' }
  | { outcome: 'warmed' }
  /** The guest failed or answered something else: discard the instance. */
  | { outcome: 'refused'; detail: string };

/**
 * Runs the warm-up on a new instance. The caller routes the instance's host
 * calls to `warmUpHostCall` while this runs (`during` brackets the call).
 */
export function warmUp(root: WarmableRoot, during: (active: boolean) => void): WarmUpResult {
  if (typeof root.warmUp !== 'function') return { outcome: 'unsupported' };
  during(true);
  try {
    root.warmUp();
    const response = root.handler(WARM_UP_REQUEST);
    // jco's sync glue runs the guest's event loop to completion inside the call.
    if (response instanceof Promise) return { outcome: 'refused', detail: 'the warm-up call did not complete' };
    const marked = response.headers.some(
      ({ name, value }) => name.toLowerCase() === WARM_UP_HEADER && value === 'done',
    );
    if (response.status !== 204 || !marked) {
      return { outcome: 'refused', detail: `the warm-up call answered ${response.status} without the warm-up header` };
    }
    return { outcome: 'warmed' };
  } catch (error) {
    return { outcome: 'refused', detail: error instanceof Error ? error.message : String(error) };
  } finally {
    during(false);
  }
}
