/**
 * Warm-up: one call into a new instance, before its reset snapshot is taken,
 * that does the guest's first-call work (SpiderMonkey's shapes and atoms,
 * the bindings' and the SDK's first run) once per instance instead of on
 * every request. The protocol is in wit/README.md, "Warm-up".
 *
 * Why: a reset puts the instance back into the state its snapshot holds, so
 * without warm-up every request starts from a never-called engine (docs/perf/005-warm-up.md).
 *
 * Safety: the extension's code does not run (the SDK answers the call with a
 * built-in handler), and the host answers the call's imports without any
 * tenant's data: request-only interfaces answer from a synthetic request
 * (`WARM_UP_SCOPE`), the others with their provider's `warmUp` answers (no
 * value, nothing stored) or a trap. A guest that answers anything but the
 * agreed 204 has run code nobody vetted, so its instance is discarded and
 * its component is served without warm-up from then on.
 */
import { CAPABILITIES, type Capability, type ExecuteContext } from '@alga-psa/protocol';
import {
  witName,
  type HostOutcome,
  type LocalAnswerer,
  type LocalScope,
  type PlannedInterface,
} from '../host-calls/index.ts';
import { contextData } from '../wit-records.ts';
import type { WitExecuteRequest } from './convert.ts';
import type { GuestRoot } from './jco-glue.ts';

/** The header the guest's warm-up answer carries (the SDK's `answerWarmUp`). */
const WARM_UP_HEADER = 'alga-warm-up';

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

/** What answers from the request alone see during warm-up: the synthetic request, every capability. */
export const WARM_UP_SCOPE: LocalScope = {
  request: { context: SYNTHETIC_CONTEXT, config: {} },
  granted: new Set(Object.keys(CAPABILITIES) as Capability[]),
};

/**
 * The host's answer to a call during warm-up: a request-only interface
 * answers from the synthetic request, any other with its provider's warm-up
 * answer, and a function without one traps.
 */
export function warmUpAnswer(
  planned: PlannedInterface,
  answerLocally: LocalAnswerer,
  fn: string,
  args: unknown[],
): HostOutcome {
  const local = planned.requestOnly ? answerLocally(WARM_UP_SCOPE, planned.iface, fn, args) : undefined;
  return (
    local ??
    planned.warmUp[fn] ?? { kind: 'trap', message: `${witName(planned.iface, fn)} is not available during warm-up.` }
  );
}

export type WarmUpResult =
  /** The component has no `warm-up` export: nothing was called. */
  | { outcome: 'unsupported' }
  | { outcome: 'warmed' }
  /** The guest failed or answered something else: discard the instance. */
  | { outcome: 'refused'; detail: string };

/**
 * Runs the warm-up on a new instance. The caller answers the instance's host
 * calls as described above while this runs (`during` brackets the call).
 */
export function warmUp(root: GuestRoot, during: (active: boolean) => void): WarmUpResult {
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
