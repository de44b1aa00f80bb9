/** "3 minutes ago"-style times, with the exact time available as a tooltip. */
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

export function timeAgo(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ['second', 60],
    ['minute', 60],
    ['hour', 24],
    ['day', 30],
    ['month', 12],
  ];
  let value = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size)
      return unit === 'second' && Math.abs(value) < 10 ? 'just now' : relative.format(value, unit);
    value = Math.round(value / size);
  }
  return relative.format(value, 'year');
}

export function exactTime(iso: string): string {
  return absolute.format(new Date(iso));
}

/** Audit actors look like `user:admin@demo.local` or `api_key:…`; show the person. */
export function actorName(actor: string | null): string {
  if (!actor) return 'unknown';
  return actor.startsWith('user:') ? actor.slice(5) : actor.replace('api_key:', 'API key ');
}
