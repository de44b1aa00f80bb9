/**
 * The postMessage bridge between the web app (host) and an extension's
 * iframe page (docs/guides/ui-proxy.md, "The bridge"). One envelope, the
 * reference host's: `{alga: true, version: '1', type, request_id?, payload}`,
 * so its iframes (`apiproxy` with a base64 body) work unchanged. Both sides
 * parse every message with these functions and ignore what does not parse;
 * each side also checks who sent it (see where they are used).
 *
 * No imports, so an iframe bundle that uses it carries nothing else.
 */

export const BRIDGE_VERSION = '1';

/** Largest request or answer body carried over the bridge, in bytes before base64. */
export const BRIDGE_MAX_BODY_BYTES = 1024 * 1024;
/** Longest proxy route (path and query), in characters. */
export const BRIDGE_MAX_ROUTE_CHARS = 2048;
/** The iframe's height is kept within these bounds (pixels). */
export const BRIDGE_MIN_HEIGHT = 100;
export const BRIDGE_MAX_HEIGHT = 20_000;

export type BridgeMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS = new Set<string>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** Light or dark, and the host's colours as CSS colour strings. */
export interface BridgeTheme {
  mode: 'light' | 'dark';
  colors: { background: string; surface: string; text: string; muted: string; primary: string; border: string };
}

/** Who is signed in, for display only: never a session, token, key or secret. */
export interface BridgeUser {
  name: string;
  email: string;
  role: string;
  tenant: string;
}

/** Messages the iframe sends to the host. */
export type FrameMessage =
  | { type: 'ready' }
  | { type: 'resize'; height: number }
  | { type: 'navigate'; to: string }
  | {
      type: 'apiproxy';
      requestId: string;
      route: string;
      method: BridgeMethod | undefined;
      /** base64 of the request body. */
      body: string | undefined;
    };

/** Messages the host sends to the iframe. */
export type HostMessage =
  | { type: 'init'; extensionId: string; user: BridgeUser; theme: BridgeTheme }
  | { type: 'theme'; theme: BridgeTheme }
  | {
      type: 'apiproxy_response';
      requestId: string;
      /** The proxy's HTTP status; 0 when the call never reached it. */
      status: number;
      /** base64 of the answer body (present on success, and on errors that had one). */
      body: string | undefined;
      /** Set when status is not 2xx: the reference's `"Proxy error <status>: …"` wording. */
      error: string | undefined;
      /** The host's error code, e.g. `ALGA_FORBIDDEN`. */
      code: string | undefined;
    };

type Envelope = { alga: true; version: string; type: string; request_id?: string; payload?: unknown };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown, max: number): value is string => typeof value === 'string' && value.length <= max;
const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_BASE64_CHARS = Math.ceil(BRIDGE_MAX_BODY_BYTES / 3) * 4;
const COLOR = /^[#(),.%\sA-Za-z0-9-]{1,64}$/;

function envelope(data: unknown): Envelope | undefined {
  if (!isRecord(data) || data['alga'] !== true || data['version'] !== BRIDGE_VERSION) return undefined;
  if (!isString(data['type'], 64)) return undefined;
  return data as Envelope;
}

function base64Body(value: unknown): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  return isString(value, MAX_BASE64_CHARS) && BASE64.test(value) ? value : null;
}

/**
 * A proxy route: starts with `/`, no `..` or `.` segment, no fragment, no
 * backslash or control character. The host still resolves it under the
 * extension's own proxy path and refuses anything that lands elsewhere.
 */
export function isBridgeRoute(route: unknown): route is string {
  if (!isString(route, BRIDGE_MAX_ROUTE_CHARS) || !route.startsWith('/')) return false;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\\#\u0000-\u001f\u007f]/.test(route)) return false;
  const path = route.split('?')[0]!;
  return !path.split('/').some((segment) => segment === '..' || segment === '.' || /%2e|%2f|%5c/i.test(segment));
}

/**
 * An in-host path the iframe may send the person to: the web app's own pages
 * only, the staff app's (`/msp/`) or the client portal's (`/client-portal/`);
 * each host follows only its own.
 */
export function isHostPath(to: unknown): to is string {
  return isString(to, 512) && /^\/(msp|client-portal)\/[A-Za-z0-9/_.~%-]*$/.test(to) && !to.split('/').includes('..');
}

/** Parses what an iframe posted; undefined for anything that is not one of its messages. */
export function parseFrameMessage(data: unknown): FrameMessage | undefined {
  const message = envelope(data);
  if (!message) return undefined;
  const payload = isRecord(message.payload) ? message.payload : {};
  switch (message.type) {
    case 'ready':
      return { type: 'ready' };
    case 'resize': {
      const height = payload['height'];
      return typeof height === 'number' && Number.isFinite(height) && height >= 0
        ? { type: 'resize', height }
        : undefined;
    }
    case 'navigate':
      return isHostPath(payload['to']) ? { type: 'navigate', to: payload['to'] } : undefined;
    case 'apiproxy': {
      const requestId = message.request_id;
      const route = payload['route'];
      const method = payload['method'];
      const body = base64Body(payload['body']);
      if (!isString(requestId, 128) || !REQUEST_ID.test(requestId) || !isBridgeRoute(route) || body === null) {
        return undefined;
      }
      if (method !== undefined && !(typeof method === 'string' && METHODS.has(method.toUpperCase()))) return undefined;
      return {
        type: 'apiproxy',
        requestId,
        route,
        method: method === undefined ? undefined : (method.toUpperCase() as BridgeMethod),
        body,
      };
    }
    default:
      return undefined;
  }
}

function parseTheme(value: unknown): BridgeTheme | undefined {
  if (!isRecord(value) || (value['mode'] !== 'light' && value['mode'] !== 'dark') || !isRecord(value['colors'])) {
    return undefined;
  }
  const colors = value['colors'];
  const keys = ['background', 'surface', 'text', 'muted', 'primary', 'border'] as const;
  if (!keys.every((key) => isString(colors[key], 64) && COLOR.test(colors[key]))) return undefined;
  return {
    mode: value['mode'],
    colors: Object.fromEntries(keys.map((key) => [key, colors[key]])) as BridgeTheme['colors'],
  };
}

function parseUser(value: unknown): BridgeUser | undefined {
  if (!isRecord(value)) return undefined;
  const { name, email, role, tenant } = value;
  return isString(name, 320) && isString(email, 320) && isString(role, 32) && isString(tenant, 320)
    ? { name, email, role, tenant }
    : undefined;
}

/** Parses what the host posted; undefined for anything that is not one of its messages. */
export function parseHostMessage(data: unknown): HostMessage | undefined {
  const message = envelope(data);
  if (!message) return undefined;
  const payload = isRecord(message.payload) ? message.payload : {};
  switch (message.type) {
    case 'init': {
      const theme = parseTheme(payload['theme']);
      const user = parseUser(payload['user']);
      const extensionId = payload['extensionId'];
      return theme && user && isString(extensionId, 256) ? { type: 'init', extensionId, user, theme } : undefined;
    }
    case 'theme': {
      const theme = parseTheme(payload['theme']);
      return theme ? { type: 'theme', theme } : undefined;
    }
    case 'apiproxy_response': {
      const requestId = message.request_id;
      const body = base64Body(payload['body']);
      const status = payload['status'] ?? 200;
      const error = payload['error'];
      const code = payload['code'];
      if (!isString(requestId, 128) || body === null || typeof status !== 'number') return undefined;
      if ((error !== undefined && !isString(error, 4096)) || (code !== undefined && !isString(code, 64))) {
        return undefined;
      }
      return { type: 'apiproxy_response', requestId, status, body, error, code };
    }
    default:
      return undefined;
  }
}

/** Wraps a message in the envelope, the shape both sides post. */
export function frameEnvelope(message: FrameMessage): Envelope {
  const { type, ...rest } = message;
  if (message.type === 'apiproxy') {
    const { requestId, route, method, body } = message;
    return {
      alga: true,
      version: BRIDGE_VERSION,
      type,
      request_id: requestId,
      payload: { route, ...(method ? { method } : {}), ...(body === undefined ? {} : { body }) },
    };
  }
  return { alga: true, version: BRIDGE_VERSION, type, payload: rest };
}

export function hostEnvelope(message: HostMessage): Envelope {
  if (message.type === 'apiproxy_response') {
    const { requestId, type, ...payload } = message;
    const clean = Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined));
    return { alga: true, version: BRIDGE_VERSION, type, request_id: requestId, payload: clean };
  }
  const { type, ...payload } = message;
  return { alga: true, version: BRIDGE_VERSION, type, payload };
}

/** base64 of bytes, in browsers and Node alike (no Buffer). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
