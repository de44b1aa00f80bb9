/**
 * The iframe side of the host bridge (docs/guides/ui-proxy.md, "The bridge").
 * Inside the product the page runs in an opaque origin and holds no session,
 * so it asks the host page, by postMessage, to call its backend; the host
 * also tells it who is signed in (display data only) and the theme, and
 * sizes the iframe to what the page reports.
 *
 * Only messages from the parent window whose origin is the host's are read
 * (the host's origin comes from the iframe URL's `parentOrigin`, which only
 * the host can set: the page's CSP lets no other site frame it), and each is
 * parsed with the schema both sides share (`@alga-psa/protocol/ui-bridge`).
 */
import {
  fromBase64,
  frameEnvelope,
  parseHostMessage,
  toBase64,
  type BridgeMethod,
  type BridgeTheme,
  type BridgeUser,
  type FrameMessage,
  type HostMessage,
} from '@alga-psa/protocol/ui-bridge';

export type { BridgeTheme, BridgeUser };

export interface HostContext {
  extensionId: string;
  user: BridgeUser;
  theme: BridgeTheme;
}

export interface BridgeResponse {
  status: number;
  body: Uint8Array;
  error: string | undefined;
  code: string | undefined;
}

type BridgeWindow = Pick<Window, 'addEventListener' | 'removeEventListener' | 'parent' | 'location'> & {
  document?: Document;
  ResizeObserver?: typeof ResizeObserver;
};

/** The host's origin, or undefined when this page is not framed by the host. */
export function hostOrigin(win: BridgeWindow = window as BridgeWindow): string | undefined {
  if (!win.parent || win.parent === (win as unknown)) return undefined;
  const fromUrl = new URLSearchParams(win.location.search).get('parentOrigin');
  const fromAncestors = (win.location as Location & { ancestorOrigins?: DOMStringList }).ancestorOrigins?.[0];
  const origin = fromUrl ?? fromAncestors;
  return origin && origin !== 'null' ? origin : undefined;
}

/** True inside the product's iframe (calls go through the bridge); false in `alga dev` or a plain tab. */
export function inHostFrame(win: BridgeWindow = window as BridgeWindow): boolean {
  return hostOrigin(win) !== undefined;
}

let requestCounter = 0;

export class HostConnection {
  /** Resolves with the signed-in user's display data and the theme once the host answers `ready`. */
  readonly ready: Promise<HostContext>;
  private readonly win: BridgeWindow;
  private readonly origin: string;
  private readonly pending = new Map<string, (message: Extract<HostMessage, { type: 'apiproxy_response' }>) => void>();
  private readonly themeListeners = new Set<(theme: BridgeTheme) => void>();
  private readonly onMessage: (event: MessageEvent) => void;
  private stopResize: (() => void) | undefined;

  constructor(win: BridgeWindow, origin: string) {
    this.win = win;
    this.origin = origin;
    let resolveReady!: (context: HostContext) => void;
    this.ready = new Promise((resolve) => (resolveReady = resolve));
    this.onMessage = (event: MessageEvent) => {
      // Only the parent, only from the host's origin, only the shared shapes.
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
    win.addEventListener('message', this.onMessage as EventListener);
    this.post({ type: 'ready' });
  }

  private post(message: FrameMessage): void {
    // The host's origin is known, so name it: nothing else receives the message.
    this.win.parent.postMessage(frameEnvelope(message), this.origin);
  }

  /** Calls a proxy route of this extension's backend; the host adds the session. */
  request(
    route: string,
    options: { method?: BridgeMethod; body?: Uint8Array; signal?: AbortSignal } = {},
  ): Promise<BridgeResponse> {
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
          body: message.body === undefined ? new Uint8Array() : fromBase64(message.body),
          error: message.error,
          code: message.code,
        });
      });
      this.post({
        type: 'apiproxy',
        requestId,
        route: route.startsWith('/') ? route : `/${route}`,
        method: options.method,
        body: options.body === undefined ? undefined : toBase64(options.body),
      });
    });
  }

  /** Calls `listener` with the theme now (once known) and whenever the host's theme changes. */
  onTheme(listener: (theme: BridgeTheme) => void): () => void {
    this.themeListeners.add(listener);
    void this.ready.then((context) => this.themeListeners.has(listener) && listener(context.theme));
    return () => this.themeListeners.delete(listener);
  }

  /** Opens one of the host's own pages (`/msp/...`, or `/client-portal/...` in the client portal) in the host window. */
  navigate(to: string): void {
    this.post({ type: 'navigate', to });
  }

  /** Tells the host how tall the page is, so the iframe shows it without a scrollbar. */
  resize(height: number): void {
    this.post({ type: 'resize', height: Math.ceil(height) });
  }

  /** Reports the document's height now and whenever it changes. Returns a function that stops. */
  autoResize(): () => void {
    this.stopResize?.();
    const root = this.win.document?.documentElement;
    const Observer = this.win.ResizeObserver;
    if (!root || !Observer) return () => {};
    // The <html> box's own height is the content's, whatever the iframe's size (scrollHeight never shrinks below it).
    const measure = () => this.resize(root.getBoundingClientRect().height);
    const observer = new Observer(measure);
    observer.observe(root);
    measure();
    this.stopResize = () => observer.disconnect();
    return this.stopResize;
  }

  close(): void {
    this.stopResize?.();
    this.win.removeEventListener('message', this.onMessage as EventListener);
    if (connection === this) connection = undefined;
  }
}

let connection: HostConnection | undefined;

/**
 * The page's connection to the host (one per page), sizing the iframe to the
 * page from the start. Throws outside the host's iframe: check `inHostFrame()`.
 */
export function connectHost(win: BridgeWindow = window as BridgeWindow): HostConnection {
  if (connection) return connection;
  const origin = hostOrigin(win);
  if (!origin) throw new Error('connectHost: this page is not inside the Alga host; open it from the host menu.');
  connection = new HostConnection(win, origin);
  connection.autoResize();
  return connection;
}
