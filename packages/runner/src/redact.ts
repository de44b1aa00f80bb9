/**
 * Masks secret values in text the runner is about to log. Hand-written: pino's
 * `redact` masks by object path, not by value inside a string, and a guest can
 * put a secret anywhere in its message in any common encoding.
 */
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
    encodeURIComponent(value),
    // application/x-www-form-urlencoded writes spaces as `+`.
    encodeURIComponent(value).replace(/%20/g, '+'),
  ]);
  return [...forms].filter((form) => form.length > 0);
}

export function maskSecrets(text: string, secretValues: Iterable<string>): string {
  const forms: string[] = [];
  for (const value of secretValues) forms.push(...secretForms(value));
  // Longest first, so a value is masked before a form that is its substring.
  forms.sort((a, b) => b.length - a.length);
  let out = text;
  for (const form of forms) out = out.split(form).join(REDACTED);
  return out;
}
