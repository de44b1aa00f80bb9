/** Sign-in, sign-out and "who am I" for the web UI. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SignInRequestSchema, type SessionInfo, type UiUser } from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import {
  createSession,
  deleteExpiredSessions,
  deleteSession,
  resolveSession,
  verifyCredentials,
  type SessionUser,
} from '../auth/session.ts';
import { signInFailed, signInThrottled } from '../errors.ts';
import { SignInThrottle } from './sign-in-throttle.ts';
import { SESSION_COOKIE, cookieOptions, issueCsrfToken, type WebSecurityOptions } from './security.ts';

function userView(user: SessionUser): UiUser {
  return { email: user.email, name: user.name, role: user.role, tenant: user.tenantName, tenantId: user.tenantId };
}

export function sessionRoutes(plain: FastifyInstance, db: Db, options: WebSecurityOptions): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const limits = options.signInFailures ?? {};
  const window = limits.windowMs === undefined ? {} : { windowMs: limits.windowMs };
  const accounts = new SignInThrottle({ maxFailures: limits.perAccount ?? 10, ...window });
  // An office behind one address has many people: a larger budget than one account's.
  const addresses = new SignInThrottle({ maxFailures: limits.perAddress ?? 50, ...window });
  app.get('/ui/api/session', async (request, reply): Promise<SessionInfo> => ({
    user: request.uiUser ? userView(request.uiUser) : null,
    csrfToken: issueCsrfToken(request, reply, options),
  }));

  app.post(
    '/ui/api/session',
    { schema: { body: SignInRequestSchema } },
    async (request, reply): Promise<SessionInfo> => {
      // Sign-in matches the email case-insensitively; so does the count.
      const account = request.body.email.trim().toLowerCase();
      const wait = Math.max(accounts.retryAfter(account), addresses.retryAfter(request.ip));
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        // The same answer for a known and an unknown account: no probing through the limit either.
        throw signInThrottled({ seconds: wait }, { details: { retryAfterSeconds: wait } });
      }
      const userId = await verifyCredentials(db, request.body.email, request.body.password);
      // One message for unknown email and wrong password: no account probing.
      if (!userId) {
        accounts.failed(account);
        addresses.failed(request.ip);
        throw signInFailed();
      }
      await deleteSession(db, request.cookies[SESSION_COOKIE]);
      await deleteExpiredSessions(db);
      // A new token on every sign-in, so a session id planted before sign-in is worthless.
      const { token, expiresAt } = await createSession(db, userId);
      reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions(request, options), expires: expiresAt });
      request.uiUser = (await resolveSession(db, token)) ?? null;
      request.log.info({ userId }, 'ui sign-in');
      return { user: userView(request.uiUser!), csrfToken: issueCsrfToken(request, reply, options) };
    },
  );

  app.delete('/ui/api/session', async (request, reply): Promise<SessionInfo> => {
    await deleteSession(db, request.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, cookieOptions(request, options));
    request.uiUser = null;
    return { user: null, csrfToken: issueCsrfToken(request, reply, options) };
  });
}
