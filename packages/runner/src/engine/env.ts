/**
 * A whole-number engine switch from the environment: unset or blank gives
 * `fallback`; anything but an integer from 0 to `max` throws, naming the
 * variable, its range and `unit`, so config.ts can report it with the rest.
 */
export function integerFromEnv(
  env: Record<string, string | undefined>,
  name: string,
  { fallback, max, unit }: { fallback: number; max: number; unit: string },
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > max) {
    throw new Error(`${name} must be an integer between 0 and ${max} (${unit}), got ${JSON.stringify(raw)}.`);
  }
  return value;
}
