/**
 * What a host call produces, in a form that crosses threads: the `ok` value,
 * the WIT error variant's payload, or a trap with a message for the guest.
 */
export type HostOutcome =
  { kind: 'ok'; value: unknown } | { kind: 'err'; payload: WitErrPayload } | { kind: 'trap'; message: string };

/** An enum error case (`'missing'`), or a variant case as jco lowers it (`{ tag, val }`). */
export type WitErrPayload = string | { tag: string; val?: string };

/** How a provider answers the `err` case of a WIT `result<T, E>`. */
export class WitErr {
  readonly payload: WitErrPayload;
  constructor(payload: WitErrPayload) {
    this.payload = payload;
  }
}

export function witErr(payload: WitErrPayload): WitErr {
  return new WitErr(payload);
}

/**
 * Thrown by a provider to trap the guest with a message meant for the
 * extension author (e.g. a missing capability on a function without an error
 * variant). Any other exception traps with a generic message.
 */
export class HostTrap extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostTrap';
  }
}

/** A provider's answer (value or `WitErr`) as an outcome. */
export function outcomeOf(value: unknown): HostOutcome {
  return value instanceof WitErr ? { kind: 'err', payload: value.payload } : { kind: 'ok', value };
}
