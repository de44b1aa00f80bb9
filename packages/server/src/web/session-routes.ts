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
  tenantName,
  verifyCredentials,
  type SessionUser,
} from '../auth/session.ts';
import { signInFailed } from '../errors.ts';
import { SESSION_COOKIE, cookieOptions, issueCsrfToken, type WebSecurityOptions } from './security.ts';

async function userView(db: Db, user: SessionUser): Promise<UiUser> {
  return { email: user.email, name: user.name, role: user.role, tenant: await tenantName(db, user.tenantId) };
}

export function sessionRoutes(plain: FastifyInstance, db: Db, options: WebSecurityOptions): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/ui/api/session', async (request, reply): Promise<SessionInfo> => ({
    user: request.uiUser ? await userView(db, request.uiUser) : null,
    csrfToken: issueCsrfToken(request, reply, options),
  }));

  app.post(
    '/ui/api/session',
    { schema: { body: SignInRequestSchema } },
    async (request, reply): Promise<SessionInfo> => {
      const userId = await verifyCredentials(db, request.body.email, request.body.password);
      // One message for unknown email and wrong password: no account probing.
      if (!userId) throw signInFailed();
      await deleteSession(db, request.cookies[SESSION_COOKIE]);
      await deleteExpiredSessions(db);
      // A new token on every sign-in, so a session id planted before sign-in is worthless.
      const { token, expiresAt } = await createSession(db, userId);
      reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions(request, options), expires: expiresAt });
      request.uiUser = (await resolveSession(db, token)) ?? null;
      request.log.info({ userId }, 'ui sign-in');
      return { user: await userView(db, request.uiUser!), csrfToken: issueCsrfToken(request, reply, options) };
    },
  );

  app.delete('/ui/api/session', async (request, reply): Promise<SessionInfo> => {
    await deleteSession(db, request.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, cookieOptions(request, options));
    request.uiUser = null;
    return { user: null, csrfToken: issueCsrfToken(request, reply, options) };
  });
}
