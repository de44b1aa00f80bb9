/**
 * The host side of the bridge (docs/guides/ui-proxy.md, "The bridge"): an
 * extension page in a sandboxed iframe (`allow-scripts` only, so it runs in
 * an opaque origin), and the answers to what it asks. Only messages whose
 * source is this iframe's window and whose origin is opaque ("null") are
 * read, each parsed with the schema the iframe side uses too. The page gets
 * the user's display data and the theme, never the session, the CSRF token
 * or a key: proxy calls are made here, with the session, and only the answer
 * goes back.
 */
import { useEffect, useRef, useState } from 'react';
import { CSRF_HEADER, type UiUser } from '@alga-psa/protocol';
import {
  BRIDGE_MAX_BODY_BYTES,
  BRIDGE_MAX_HEIGHT,
  BRIDGE_MIN_HEIGHT,
  fromBase64,
  hostEnvelope,
  parseFrameMessage,
  toBase64,
  type BridgeTheme,
  type FrameMessage,
  type HostMessage,
} from '@alga-psa/protocol/ui-bridge';
import { csrfTokenValue } from '../api.ts';
import { navigate } from '../router.tsx';
import { onThemeChange } from '../theme.ts';

/** The app's colours, read from its CSS tokens so the page can match them. */
export function currentTheme(): BridgeTheme {
  const style = getComputedStyle(document.documentElement);
  const token = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    // Set by theme.ts from the system's prefers-color-scheme.
    mode: document.documentElement.dataset['theme'] === 'dark' ? 'dark' : 'light',
    colors: {
      background: token('--bg', '#f5f6fa'),
      surface: token('--surface', '#ffffff'),
      text: token('--text', '#1b2030'),
      muted: token('--muted', '#5d6578'),
      primary: token('--primary', '#4f46e5'),
      border: token('--border', '#e3e6ee'),
    },
  };
}

type ProxyAnswer = Extract<HostMessage, { type: 'apiproxy_response' }>;

/** One proxy call on the page's behalf: only under this extension's own proxy path. */
export async function proxyCall(
  extensionId: string,
  message: Extract<FrameMessage, { type: 'apiproxy' }>,
): Promise<ProxyAnswer> {
  const answer = (status: number, fields: Partial<ProxyAnswer> = {}): ProxyAnswer => ({
    type: 'apiproxy_response',
    requestId: message.requestId,
    status,
    body: undefined,
    error: undefined,
    code: undefined,
    ...fields,
  });
  const base = `/api/ext-proxy/${encodeURIComponent(extensionId)}`;
  const url = new URL(base + message.route, location.origin);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${base}/`)) {
    return answer(0, { error: 'Proxy error: the route leaves the extension’s proxy.' });
  }
  // The reference host posts when no method is given; our iframe helper always names one.
  const method = message.method ?? 'POST';
  const hasBody = message.body !== undefined && method !== 'GET';
  try {
    const response = await fetch(url, {
      method,
      credentials: 'same-origin',
      redirect: 'error',
      headers: {
        accept: 'application/json',
        [CSRF_HEADER]: csrfTokenValue() || '1',
        ...(hasBody ? { 'content-type': 'application/json' } : {}),
      },
      ...(hasBody ? { body: fromBase64(message.body!) } : {}),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > BRIDGE_MAX_BODY_BYTES) {
      return answer(502, { error: `Proxy error 502: the answer is larger than ${BRIDGE_MAX_BODY_BYTES} bytes.` });
    }
    if (response.ok) return answer(response.status, { body: toBase64(bytes) });
    let parsed: { error?: { code?: string; message?: string } } | undefined;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes)) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    return answer(response.status, {
      body: toBase64(bytes),
      error: `Proxy error ${response.status}: ${parsed?.error?.message ?? response.statusText}`,
      ...(parsed?.error?.code ? { code: parsed.error.code } : {}),
    });
  } catch (error) {
    return answer(0, { error: `Proxy error: ${(error as Error).message}` });
  }
}

export function ExtensionFrame({
  extensionId,
  src,
  title,
  user,
  navigatePrefix,
}: {
  extensionId: string;
  src: string;
  title: string;
  user: UiUser;
  /** Where the page may send the host (`navigate`): the staff app's `/msp/` or the client portal's `/client-portal/`. */
  navigatePrefix: string;
}) {
  const frame = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(480);

  useEffect(() => {
    const iframe = frame.current;
    if (!iframe) return;
    const send = (target: Window, message: HostMessage) =>
      // An opaque origin cannot be named as a target; the target is the window that asked, checked below.
      target.postMessage(hostEnvelope(message), '*');
    // The document that said "ready" (and got `init`): theme changes go to it, and only while it is still there.
    let ready: Window | null = null;
    const stopTheme = onThemeChange(() => {
      if (ready && iframe.contentWindow === ready) send(ready, { type: 'theme', theme: currentTheme() });
    });
    const onMessage = (event: MessageEvent) => {
      if (event.source !== iframe.contentWindow || event.origin !== 'null') return;
      const message = parseFrameMessage(event.data);
      if (!message) return;
      const source = event.source as Window;
      switch (message.type) {
        case 'ready':
          ready = source;
          send(source, {
            type: 'init',
            extensionId,
            user: { name: user.name, email: user.email, role: user.role, tenant: user.tenant },
            theme: currentTheme(),
          });
          break;
        case 'resize':
          setHeight(Math.max(BRIDGE_MIN_HEIGHT, Math.min(BRIDGE_MAX_HEIGHT, Math.ceil(message.height))));
          break;
        case 'navigate':
          // The bridge's schema allows either app's paths; this host only goes to its own.
          if (message.to.startsWith(navigatePrefix)) navigate(message.to);
          break;
        case 'apiproxy':
          void proxyCall(extensionId, message).then((answer) => {
            // Answer only the document that asked: if the frame navigated meanwhile, drop it.
            if (iframe.contentWindow === source) send(source, answer);
          });
          break;
      }
    };
    window.addEventListener('message', onMessage);
    return () => {
      window.removeEventListener('message', onMessage);
      stopTheme();
    };
  }, [extensionId, user, navigatePrefix]);

  const url = new URL(src, location.origin);
  // The reference host's pages read `path` (the page's own route, `/` here), `tenant` and
  // `extensionId`; ours read `ext` too.
  url.searchParams.set('path', '/');
  url.searchParams.set('tenant', user.tenantId);
  url.searchParams.set('ext', extensionId);
  url.searchParams.set('extensionId', extensionId);
  url.searchParams.set('parentOrigin', location.origin);
  return (
    <iframe
      ref={frame}
      className="extension-frame"
      title={title}
      src={url.pathname + url.search}
      // Scripts only: no allow-same-origin (opaque origin), no forms, popups or top navigation.
      sandbox="allow-scripts"
      // The frame's own request is same-origin: the page learns which product page holds it
      // (the reference's client-portal pages read document.referrer); nothing goes elsewhere.
      referrerPolicy="same-origin"
      style={{ height }}
    />
  );
}
