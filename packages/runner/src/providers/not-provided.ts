/**
 * The reference host's PSA interfaces (`scheduler`, `invoicing`, `clients`,
 * `services`), which this platform links but does not provide. A component
 * built against the reference's whole world imports them whether it calls
 * them or not (componentize-js imports the world), so each is linked to its
 * own refusal: the interface's "not allowed" variant, or `success: false`
 * for the functions whose WIT result is a record. No capability unlocks them
 * here, so the dispatcher always takes the deny path, and no backend exists
 * to touch. The first refusal of an execution writes one line to the
 * runner's log saying the platform does not provide the interface.
 */
import { REFERENCE_INTERFACES, WIT_PACKAGE, type ReferenceInterface } from '@alga-psa/protocol';
import { executionState, type ExecutionScope, type WitErr } from '../host-calls/index.ts';
import { defineProvider, type FunctionsOf, type HostFunctions, type HostProviderDefinition } from './types.ts';

/** The reference interfaces no capability unlocks on this platform. */
export type NotProvidedInterface = Exclude<ReferenceInterface, 'user-v2'>;

/** Per function, the refusal it answers (made fresh per call: the guest owns what it receives). */
export type Refusals<I extends NotProvidedInterface> = {
  [F in keyof FunctionsOf<I>]: () => (FunctionsOf<I>[F] extends (...args: never[]) => infer R ? R : never) | WitErr;
};

/** The interfaces this execution was already told about, so a loop of calls logs one line. */
const told = executionState('not-provided.told', () => new Set<string>());

/** The one log line, and the message a record-shaped refusal carries. */
export function notProvidedMessage(iface: NotProvidedInterface): string {
  const { referenceCapability } = REFERENCE_INTERFACES[iface];
  return `${WIT_PACKAGE}/${iface} (${referenceCapability} on the reference host) is not provided by this platform; its calls are refused`;
}

export function defineNotProvided<I extends NotProvidedInterface>(
  iface: I,
  refusals: Refusals<I>,
): HostProviderDefinition<I> {
  const message = notProvidedMessage(iface);
  return defineProvider({
    iface,
    create: () => {
      const refuse = (fn: string, scope: ExecutionScope): unknown => {
        const seen = scope.state(told);
        if (!seen.has(iface)) {
          seen.add(iface);
          scope.logger.warn({ provider: iface, fn }, message);
        }
        return (refusals as Record<string, () => unknown>)[fn]!();
      };
      const functions = Object.fromEntries(
        Object.keys(refusals).map((fn) => [fn, (scope: ExecutionScope) => refuse(fn, scope)]),
      ) as unknown as HostFunctions<I>;
      return { functions, denied: refuse };
    },
  });
}
