/**
 * The browser-facing guards for `/ui/api/*`: who is signed in (session
 * cookie), and whether a state-changing request really comes from our own
 * page (Origin check + a CSRF token bound to the session). SameSite=Strict
 * cookies already stop most cross-site requests; the two checks here cover
 * older browsers, same-site subdomains and cookie tossing.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import type { Role } from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import { resolveSession, type SessionUser } from '../auth/session.ts';
import {
  adminOnly,
  clientPortalOnly,
  crossSiteWrite,
  csrfTokenInvalid,
  roleWithoutAccess,
  signInRequired,
} from '../errors.ts';

export const SESSION_COOKIE = 'alga_session';
export const CSRF_COOKIE = 'alga_csrf';
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

declare module 'fastify' {
  interface FastifyRequest {
    uiUser: SessionUser | null;
  }
}

export interface WebSecurityOptions {
  /** Force the cookies' Secure flag (behind a TLS-terminating proxy); default: when the request came over https. */
  secureCookies?: boolean;
  /** Origins allowed to send writes, e.g. "https://alga.example.com"; default: the request's own scheme + Host. */
  allowedOrigins?: string[];
  /** Failed sign-ins allowed per window: per account (default 10) and per client address (default 50). */
  signInFailures?: { perAccount?: number; perAddress?: number; windowMs?: number };
}

export function isSecure(request: FastifyRequest, options: WebSecurityOptions): boolean {
  return options.secureCookies ?? request.protocol === 'https';
}

export function cookieOptions(request: FastifyRequest, options: WebSecurityOptions) {
  return { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: isSecure(request, options) };
}

/** The origin of an Origin/Referer header value, normalized (`http://h:80` → `http://h`). */
export function originOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return new URL(value).origin;
  } catch {
    return undefined;
  }
}

export async function registerWebSecurity(app: FastifyInstance, db: Db, options: WebSecurityOptions): Promise<void> {
  await app.register(fastifyCookie);
  await app.register(fastifyCsrf, {
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'strict' },
    // Binds each token to the session it was issued for: a token lifted from
    // one session (or from before sign-in) is useless in another.
    getUserInfo: (request: FastifyRequest) => request.uiUser?.sessionId ?? 'anonymous',
    // The HMAC key only has to outlive the page that fetched a token; a restart
    // makes the UI fetch a fresh one (see packages/web/src/api.ts).
    csrfOpts: { hmacKey: randomBytes(32) },
  });
  app.decorateRequest('uiUser', null);

  // Errors raised by @fastify/csrf-protection carry Fastify codes; give them
  // our registry's code so the UI (and tests) see one 403 shape.
  app.setErrorHandler((error: Error & { code?: string }) => {
    if (error.code === 'FST_CSRF_MISSING_SECRET' || error.code === 'FST_CSRF_INVALID_TOKEN') {
      throw csrfTokenInvalid({ details: { reason: 'csrf' } });
    }
    throw error;
  });

  app.addHook('onRequest', async (request) => {
    request.uiUser = (await resolveSession(db, request.cookies[SESSION_COOKIE])) ?? null;
    if (READ_METHODS.has(request.method)) return;
    const allowed = options.allowedOrigins ?? [`${request.protocol}://${request.host}`];
    const origin = originOf(request.headers.origin) ?? originOf(request.headers.referer);
    if (!origin || !allowed.includes(origin)) {
      throw crossSiteWrite({ details: { reason: 'origin' } });
    }
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (READ_METHODS.has(request.method)) return done();
    app.csrfProtection(request, reply, done);
  });

  // Responses carry per-user data: never cached, never framed, never sniffed.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
  });
}

/** A fresh CSRF token bound to the request's current session (or to "anonymous"). */
export function issueCsrfToken(request: FastifyRequest, reply: FastifyReply, options: WebSecurityOptions): string {
  return reply.generateCsrf({
    userInfo: request.uiUser?.sessionId ?? 'anonymous',
    ...cookieOptions(request, options),
  });
}

/** A signed-in member of the tenant's staff (not a client-portal user). */
export type StaffUser = SessionUser & { role: Role };

/** The signed-in user of any role (staff or client portal), or 401. */
export function requireSignedIn(request: FastifyRequest): SessionUser {
  const user = request.uiUser;
  if (!user) throw signInRequired();
  return user;
}

/**
 * A signed-in staff user (admin or viewer), or 401/403. Tenant and role come
 * from here and nowhere else. Every install, settings, audit and logs route
 * goes through it, so a client-portal user is refused there by the server.
 */
export function requireUser(request: FastifyRequest): StaffUser {
  const user = requireSignedIn(request);
  if (user.role === 'client') throw clientPortalOnly({ details: { reason: 'role' } });
  // Deny by default: a role this code does not know must not fall through to "viewer".
  if (user.role !== 'admin' && user.role !== 'viewer') {
    throw roleWithoutAccess({ details: { reason: 'role' } });
  }
  return user as StaffUser;
}

export function requireAdminUser(request: FastifyRequest): StaffUser {
  const user = requireUser(request);
  if (user.role !== 'admin') throw adminOnly({ details: { reason: 'role' } });
  return user;
}
