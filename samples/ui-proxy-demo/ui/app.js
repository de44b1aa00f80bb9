// Generated from ui-src/app.ts by ui-src/build.ts. Do not edit.
/* eslint-disable -- esbuild output, checked against its source by a unit test */
// packages/protocol/src/csrf.ts
var CSRF_HEADER = 'x-alga-csrf';

// packages/extension-ui/src/index.ts
var ProxyCallError = class extends Error {
  status;
  code;
  body;
  constructor(status, message, code, body) {
    super(message);
    this.name = 'ProxyCallError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
};
var CSRF_META = 'alga-csrf-token';
var EXTENSION_ID_META = 'alga-extension-id';
var csrfFromMessage;
function meta(doc, name) {
  const element = doc?.querySelector(`meta[name="${name}"]`);
  return element?.getAttribute?.('content') ?? void 0;
}
function resolveExtensionId(options, doc) {
  const fromQuery = doc?.location ? new URLSearchParams(doc.location.search).get('ext') : null;
  const id = options.extensionId ?? fromQuery ?? meta(doc, EXTENSION_ID_META);
  if (!id) {
    throw new Error(
      'callProxyJson: no extension id; pass {extensionId}, or serve the page with ?ext=<id> or <meta name="alga-extension-id">.',
    );
  }
  return id;
}
async function callProxyJson(route, payload, options = {}) {
  const doc = options.document ?? globalThis.document;
  const extensionId = resolveExtensionId(options, doc);
  const path = route.replace(/^\/+/, '');
  const headers = { accept: 'application/json' };
  headers[CSRF_HEADER] = meta(doc, CSRF_META) ?? csrfFromMessage ?? '1';
  const method = options.method ?? (payload === void 0 ? 'GET' : 'POST');
  if (payload !== void 0) headers['content-type'] = 'application/json';
  const doFetch = options.fetch ?? fetch;
  const response = await doFetch(`/api/ext-proxy/${encodeURIComponent(extensionId)}/${path}`, {
    method,
    headers,
    // Same-origin cookies only: the session never leaves the host's origin.
    credentials: 'same-origin',
    body: payload === void 0 ? void 0 : JSON.stringify(payload),
    signal: options.signal,
  });
  const text = await response.text();
  let body = void 0;
  try {
    body = text ? JSON.parse(text) : void 0;
  } catch {
    if (response.ok) throw new ProxyCallError(response.status, `${route} answered non-JSON content.`, void 0, text);
  }
  if (!response.ok) {
    const error = body?.error;
    throw new ProxyCallError(
      response.status,
      error?.message ?? `${route} failed with HTTP ${response.status}.`,
      error?.code,
      body,
    );
  }
  return body;
}

// samples/ui-proxy-demo/ui-src/app.ts
async function render(root2, days, fetchImpl) {
  const summary = await callProxyJson('/summary', { days }, fetchImpl ? { fetch: fetchImpl } : {});
  root2.querySelector('h1').textContent = summary.title;
  root2.querySelector('p').textContent = `${summary.greeting} \u2014 last ${summary.days} days`;
  return summary;
}
var root = globalThis.document?.getElementById('app');
if (root) {
  render(root, 7).catch((error) => {
    root.querySelector('p').textContent = `Could not load: ${error.message}`;
  });
}
export { render };
