/**
 * Masks secret values in text the runner is about to log. Hand-written: pino's
 * `redact` masks by object path, not by value inside a string, and a guest can
 * put a secret anywhere in its message in any common encoding.
 */
import type { Logger } from 'pino';

export const REDACTED = '[REDACTED]';

/** The encodings of a secret that commonly end up in log lines. */
export function secretForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const base64 = bytes.toString('base64');
  const forms = new Set([
    value,
    base64,
    base64.replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    encodeURIComponent(value),
    // application/x-www-form-urlencoded writes spaces as `+`.
    encodeURIComponent(value).replace(/%20/g, '+'),
  ]);
  return [...forms].filter((form) => form.length > 0);
}

/** `secretForms(value)`, longest first, so a value is masked before a form that is its substring. */
export function sortedForms(value: string): readonly string[] {
  return secretForms(value).sort((a, b) => b.length - a.length);
}

/**
 * Forms computed ahead for values of a mask set, by set: a secret cache
 * entry keeps its values' forms (see providers/secrets), so an execution
 * that reads a cached secret does not encode it eight ways again.
 */
const knownForms = new WeakMap<ReadonlySet<string>, Map<string, readonly string[]>>();

/** Adds `value` to an execution's mask set; `forms` is its `sortedForms`, when the caller keeps them. */
export function addMasked(set: Set<string>, value: string, forms?: readonly string[]): void {
  set.add(value);
  if (!forms) return;
  let known = knownForms.get(set);
  if (!known) knownForms.set(set, (known = new Map()));
  known.set(value, forms);
}

/**
 * The forms of an execution's secret values, kept with the set they came
 * from: a line is masked several times on its way out (the logging
 * provider, then the logger's hook for each argument), and encoding every
 * value again each time was most of the masking's cost. Entries go with
 * their set; a set that changed since (an execution's only grows, then is
 * cleared) gets its forms again.
 */
const formsBySet = new WeakMap<ReadonlySet<string>, { values: string[]; forms: readonly string[] }>();

function formsOf(secretValues: Iterable<string>): readonly string[] {
  const set = secretValues instanceof Set ? (secretValues as ReadonlySet<string>) : undefined;
  if (set?.size === 0) return [];
  const cached = set && formsBySet.get(set);
  if (cached && cached.values.length === set.size && cached.values.every((value) => set.has(value))) {
    return cached.forms;
  }
  const values = [...secretValues];
  const known = set && knownForms.get(set);
  let forms: readonly string[];
  if (values.length === 1) {
    // The common case, one secret: its forms are sorted already.
    forms = known?.get(values[0]!) ?? sortedForms(values[0]!);
  } else {
    // Longest first, so a value is masked before a form that is its substring.
    forms = values.flatMap((value) => known?.get(value) ?? secretForms(value)).sort((a, b) => b.length - a.length);
  }
  if (set) formsBySet.set(set, { values, forms });
  return forms;
}

export function maskSecrets(text: string, secretValues: Iterable<string>): string {
  let out = text;
  for (const form of formsOf(secretValues)) if (out.includes(form)) out = out.split(form).join(REDACTED);
  return out;
}

/**
 * Where a logger keeps the secret values its lines must mask. Set on an
 * execution's child logger (see host-calls/scope.ts); children of that child inherit it
 * through the prototype chain pino builds them with.
 */
export const MASK_VALUES = Symbol.for('alga.runner.maskValues');

const MAX_DEPTH = 6;

/** Masks every string inside a log argument; Errors become plain objects first. */
export function maskDeep(value: unknown, secretValues: ReadonlySet<string>, depth = 0): unknown {
  if (typeof value === 'string') return maskSecrets(value, secretValues);
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (value instanceof Error) {
    const plain: Record<string, unknown> = { type: value.name, message: value.message };
    if (value.stack) plain.stack = value.stack;
    const { code } = value as NodeJS.ErrnoException;
    if (code !== undefined) plain.code = code;
    return maskDeep(plain, secretValues, depth + 1);
  }
  if (Array.isArray(value)) return value.map((item) => maskDeep(item, secretValues, depth + 1));
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return REDACTED;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = maskDeep(item, secretValues, depth + 1);
  return out;
}

/**
 * pino `hooks.logMethod`: when the logger belongs to an execution, masks that
 * execution's secret values in every argument of every line, whoever writes
 * it (the runner's own code, a provider, an error serializer's input).
 */
export function maskingLogMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void): void {
  const secretValues = (this as unknown as Record<symbol, ReadonlySet<string> | undefined>)[MASK_VALUES];
  if (!secretValues || secretValues.size === 0) {
    method.apply(this, args);
    return;
  }
  method.apply(
    this,
    args.map((arg) => maskDeep(arg, secretValues)),
  );
}
