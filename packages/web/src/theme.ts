/**
 * The app's colour scheme: it follows the system's `prefers-color-scheme`
 * (the app has no toggle of its own), applied as `data-theme` on <html> so the
 * CSS tokens switch, and announced to listeners such as extension frames,
 * which pass it on over the bridge.
 */
export type ThemeMode = 'light' | 'dark';

const listeners = new Set<(mode: ThemeMode) => void>();
let started = false;

function apply(mode: ThemeMode): void {
  document.documentElement.dataset['theme'] = mode;
  listeners.forEach((listener) => listener(mode));
}

/** Applies the system's scheme now and whenever it changes. Idempotent. */
export function followSystemTheme(): void {
  if (started) return;
  started = true;
  const query = window.matchMedia('(prefers-color-scheme: dark)');
  apply(query.matches ? 'dark' : 'light');
  query.addEventListener('change', (event) => apply(event.matches ? 'dark' : 'light'));
}

/** Calls `listener` after each change of scheme (the tokens are already switched); returns the unsubscribe. */
export function onThemeChange(listener: (mode: ThemeMode) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
