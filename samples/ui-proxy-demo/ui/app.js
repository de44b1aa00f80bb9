// Generated from ui-src/app.ts by ui-src/build.ts. Do not edit.
/* eslint-disable -- esbuild output, checked against its source by a unit test */
// packages/protocol/src/csrf.ts
var CSRF_HEADER = 'x-alga-csrf';

// packages/protocol/src/ui-bridge.ts
var BRIDGE_VERSION = '1';
var BRIDGE_MAX_BODY_BYTES = 1024 * 1024;
var isRecord = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
var isString = (value, max) => typeof value === 'string' && value.length <= max;
var BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
var MAX_BASE64_CHARS = Math.ceil(BRIDGE_MAX_BODY_BYTES / 3) * 4;
var COLOR = /^[#(),.%\sA-Za-z0-9-]{1,64}$/;
function envelope(data) {
  if (!isRecord(data) || data['alga'] !== true || data['version'] !== BRIDGE_VERSION) return void 0;
  if (!isString(data['type'], 64)) return void 0;
  return data;
}
function base64Body(value) {
  if (value === void 0 || value === null) return void 0;
  return isString(value, MAX_BASE64_CHARS) && BASE64.test(value) ? value : null;
}
function parseTheme(value) {
  if (!isRecord(value) || (value['mode'] !== 'light' && value['mode'] !== 'dark') || !isRecord(value['colors'])) {
    return void 0;
  }
  const colors = value['colors'];
  const keys = ['background', 'surface', 'text', 'muted', 'primary', 'border'];
  if (!keys.every((key) => isString(colors[key], 64) && COLOR.test(colors[key]))) return void 0;
  return {
    mode: value['mode'],
    colors: Object.fromEntries(keys.map((key) => [key, colors[key]])),
  };
}
function parseUser(value) {
  if (!isRecord(value)) return void 0;
  const { name, email, role, tenant } = value;
  return isString(name, 320) && isString(email, 320) && isString(role, 32) && isString(tenant, 320)
    ? { name, email, role, tenant }
    : void 0;
}
function parseHostMessage(data) {
  const message = envelope(data);
  if (!message) return void 0;
  const payload = isRecord(message.payload) ? message.payload : {};
  switch (message.type) {
    case 'init': {
      const theme = parseTheme(payload['theme']);
      const user = parseUser(payload['user']);
      const extensionId = payload['extensionId'];
      return theme && user && isString(extensionId, 256) ? { type: 'init', extensionId, user, theme } : void 0;
    }
    case 'theme': {
      const theme = parseTheme(payload['theme']);
      return theme ? { type: 'theme', theme } : void 0;
    }
    case 'apiproxy_response': {
      const requestId = message.request_id;
      const body = base64Body(payload['body']);
      const status = payload['status'] ?? 200;
      const error = payload['error'];
      const code = payload['code'];
      if (!isString(requestId, 128) || body === null || typeof status !== 'number') return void 0;
      if ((error !== void 0 && !isString(error, 4096)) || (code !== void 0 && !isString(code, 64))) {
        return void 0;
      }
      return { type: 'apiproxy_response', requestId, status, body, error, code };
    }
    default:
      return void 0;
  }
}
function frameEnvelope(message) {
  const { type, ...rest } = message;
  if (message.type === 'apiproxy') {
    const { requestId, route, method, body } = message;
    return {
      alga: true,
      version: BRIDGE_VERSION,
      type,
      request_id: requestId,
      payload: { route, ...(method ? { method } : {}), ...(body === void 0 ? {} : { body }) },
    };
  }
  return { alga: true, version: BRIDGE_VERSION, type, payload: rest };
}
function toBase64(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 32768) binary += String.fromCharCode(...bytes.subarray(i, i + 32768));
  return btoa(binary);
}
function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// packages/extension-ui/src/bridge.ts
function hostOrigin(win = window) {
  if (!win.parent || win.parent === win) return void 0;
  const fromUrl = new URLSearchParams(win.location.search).get('parentOrigin');
  const fromAncestors = win.location.ancestorOrigins?.[0];
  const origin = fromUrl ?? fromAncestors;
  return origin && origin !== 'null' ? origin : void 0;
}
function inHostFrame(win = window) {
  return hostOrigin(win) !== void 0;
}
var requestCounter = 0;
var HostConnection = class {
  /** Resolves with the signed-in user's display data and the theme once the host answers `ready`. */
  ready;
  win;
  origin;
  pending = /* @__PURE__ */ new Map();
  themeListeners = /* @__PURE__ */ new Set();
  onMessage;
  stopResize;
  constructor(win, origin) {
    this.win = win;
    this.origin = origin;
    let resolveReady;
    this.ready = new Promise((resolve) => (resolveReady = resolve));
    this.onMessage = (event) => {
      if (event.source !== this.win.parent || event.origin !== this.origin) return;
      const message = parseHostMessage(event.data);
      if (!message) return;
      if (message.type === 'init') {
        resolveReady({ extensionId: message.extensionId, user: message.user, theme: message.theme });
        this.themeListeners.forEach((listener) => listener(message.theme));
      } else if (message.type === 'theme') {
        this.themeListeners.forEach((listener) => listener(message.theme));
      } else {
        const settle = this.pending.get(message.requestId);
        this.pending.delete(message.requestId);
        settle?.(message);
      }
    };
    win.addEventListener('message', this.onMessage);
    this.post({ type: 'ready' });
  }
  post(message) {
    this.win.parent.postMessage(frameEnvelope(message), this.origin);
  }
  /** Calls a proxy route of this extension's backend; the host adds the session. */
  request(route, options = {}) {
    const requestId = `r${Date.now().toString(36)}-${(requestCounter += 1)}`;
    return new Promise((resolve, reject) => {
      const abort = () => {
        this.pending.delete(requestId);
        reject(options.signal?.reason ?? new Error('aborted'));
      };
      if (options.signal?.aborted) return abort();
      options.signal?.addEventListener('abort', abort, { once: true });
      this.pending.set(requestId, (message) => {
        options.signal?.removeEventListener('abort', abort);
        resolve({
          status: message.status,
          body: message.body === void 0 ? new Uint8Array() : fromBase64(message.body),
          error: message.error,
          code: message.code,
        });
      });
      this.post({
        type: 'apiproxy',
        requestId,
        route: route.startsWith('/') ? route : `/${route}`,
        method: options.method,
        body: options.body === void 0 ? void 0 : toBase64(options.body),
      });
    });
  }
  /** Calls `listener` with the theme now (once known) and whenever the host's theme changes. */
  onTheme(listener) {
    this.themeListeners.add(listener);
    void this.ready.then((context) => this.themeListeners.has(listener) && listener(context.theme));
    return () => this.themeListeners.delete(listener);
  }
  /** Opens one of the host's own pages (`/msp/...`, or `/client-portal/...` in the client portal) in the host window. */
  navigate(to) {
    this.post({ type: 'navigate', to });
  }
  /** Tells the host how tall the page is, so the iframe shows it without a scrollbar. */
  resize(height) {
    this.post({ type: 'resize', height: Math.ceil(height) });
  }
  /** Reports the document's height now and whenever it changes. Returns a function that stops. */
  autoResize() {
    this.stopResize?.();
    const root2 = this.win.document?.documentElement;
    const Observer = this.win.ResizeObserver;
    if (!root2 || !Observer) return () => {};
    const measure = () => this.resize(root2.getBoundingClientRect().height);
    const observer = new Observer(measure);
    observer.observe(root2);
    measure();
    this.stopResize = () => observer.disconnect();
    return this.stopResize;
  }
  close() {
    this.stopResize?.();
    this.win.removeEventListener('message', this.onMessage);
    if (connection === this) connection = void 0;
  }
};
var connection;
function connectHost(win = window) {
  if (connection) return connection;
  const origin = hostOrigin(win);
  if (!origin) throw new Error('connectHost: this page is not inside the Alga host; open it from the host menu.');
  connection = new HostConnection(win, origin);
  connection.autoResize();
  return connection;
}

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
function meta(doc2, name) {
  const element = doc2?.querySelector(`meta[name="${name}"]`);
  return element?.getAttribute?.('content') ?? void 0;
}
function resolveExtensionId(options, doc2) {
  const fromQuery = doc2?.location ? new URLSearchParams(doc2.location.search).get('ext') : null;
  const id = options.extensionId ?? fromQuery ?? meta(doc2, EXTENSION_ID_META);
  if (!id) {
    throw new Error(
      'callProxyJson: no extension id; pass {extensionId}, or serve the page with ?ext=<id> or <meta name="alga-extension-id">.',
    );
  }
  return id;
}
async function callProxyJson(route, payload, options = {}) {
  const doc2 = options.document ?? globalThis.document;
  const method = options.method ?? (payload === void 0 ? 'GET' : 'POST');
  if (!options.fetch && typeof window !== 'undefined' && inHostFrame()) {
    const answer = await connectHost().request(route, {
      method: method.toUpperCase(),
      ...(payload === void 0 ? {} : { body: new TextEncoder().encode(JSON.stringify(payload)) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return readAnswer(route, answer);
  }
  const extensionId = resolveExtensionId(options, doc2);
  const path = route.replace(/^\/+/, '');
  const headers = { accept: 'application/json' };
  headers[CSRF_HEADER] = meta(doc2, CSRF_META) ?? csrfFromMessage ?? '1';
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
function readAnswer(route, answer) {
  const text = new TextDecoder().decode(answer.body);
  let body = void 0;
  try {
    body = text ? JSON.parse(text) : void 0;
  } catch {
    if (answer.status >= 200 && answer.status < 300) {
      throw new ProxyCallError(answer.status, `${route} answered non-JSON content.`, void 0, text);
    }
  }
  if (answer.status < 200 || answer.status >= 300) {
    const error = body?.error;
    throw new ProxyCallError(
      answer.status,
      error?.message ?? answer.error ?? `${route} failed with HTTP ${answer.status}.`,
      answer.code,
      body,
    );
  }
  return body;
}

// samples/ui-proxy-demo/ui-src/app.ts
async function render(root2, days, fetchImpl) {
  const summary = await callProxyJson('/summary', { days }, fetchImpl ? { fetch: fetchImpl } : {});
  root2.querySelector('h1').textContent = summary.title;
  root2.querySelector('.summary').textContent = `${summary.greeting} \u2014 last ${summary.days} days`;
  return summary;
}
var doc = globalThis.document;
var root = doc?.getElementById('app');
if (doc && root) {
  if (inHostFrame()) {
    const host = connectHost();
    host.onTheme((theme) => {
      const style = doc.documentElement.style;
      style.colorScheme = theme.mode;
      style.setProperty('--bg', theme.colors.surface);
      style.setProperty('--text', theme.colors.text);
      style.setProperty('--muted', theme.colors.muted);
    });
    void host.ready.then(({ user }) => {
      root.querySelector('.who').textContent = `Signed in as ${user.name || user.email} (${user.role})`;
    });
  }
  render(root, 7).catch((error) => {
    root.querySelector('.summary').textContent = `Could not load: ${error.message}`;
  });
}
export { render };
