import { callProxyJson } from '@alga/extension-ui';

interface Summary {
  title: string;
  greeting: string;
  days: number;
}

/** Loads the summary through the host's UI proxy and renders it; no secret or API key in the browser. */
export async function render(root: HTMLElement, days: number, fetchImpl?: typeof fetch): Promise<Summary> {
  const summary = await callProxyJson<Summary>('/summary', { days }, fetchImpl ? { fetch: fetchImpl } : {});
  root.querySelector('h1')!.textContent = summary.title;
  root.querySelector('p')!.textContent = `${summary.greeting} — last ${summary.days} days`;
  return summary;
}

const root = (globalThis as { document?: Document }).document?.getElementById('app');
if (root) {
  render(root, 7).catch((error: unknown) => {
    root.querySelector('p')!.textContent = `Could not load: ${(error as Error).message}`;
  });
}
