import { callProxyJson, connectHost, inHostFrame } from '@alga-psa/extension-ui';

interface Summary {
  title: string;
  greeting: string;
  days: number;
}

/** Loads the summary through the host's UI proxy and renders it; no secret or API key in the browser. */
export async function render(root: HTMLElement, days: number, fetchImpl?: typeof fetch): Promise<Summary> {
  const summary = await callProxyJson<Summary>('/summary', { days }, fetchImpl ? { fetch: fetchImpl } : {});
  root.querySelector('h1')!.textContent = summary.title;
  root.querySelector('.summary')!.textContent = `${summary.greeting} — last ${summary.days} days`;
  return summary;
}

const doc = (globalThis as { document?: Document }).document;
const root = doc?.getElementById('app');
if (doc && root) {
  if (inHostFrame()) {
    // Inside the product: match its colours and say who is signed in (display data only).
    const host = connectHost();
    host.onTheme((theme) => {
      const style = doc.documentElement.style;
      style.colorScheme = theme.mode;
      style.setProperty('--bg', theme.colors.surface);
      style.setProperty('--text', theme.colors.text);
      style.setProperty('--muted', theme.colors.muted);
    });
    void host.ready.then(({ user }) => {
      root.querySelector('.who')!.textContent = `Signed in as ${user.name || user.email} (${user.role})`;
    });
  }
  render(root, 7).catch((error: unknown) => {
    root.querySelector('.summary')!.textContent = `Could not load: ${(error as Error).message}`;
  });
}
