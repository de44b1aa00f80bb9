/** Sign-in, sign-out and "who am I" for the web UI. */
import type { FastifyInstance } from 'fastify';
import { AlgaError } from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import {
  createSession,
  deleteExpiredSessions,
  deleteSession,
  resolveSession,
  verifyCredentials,
} from '../auth/session.ts';
import { SESSION_COOKIE, cookieOptions, issueCsrfToken, type WebSecurityOptions } from './security.ts';
import type { SessionUser } from '../auth/session.ts';

const signInSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['email', 'password'],
    properties: {
      email: { type: 'string', minLength: 3, maxLength: 320 },
      password: { type: 'string', minLength: 1, maxLength: 1024 },
    },
  },
} as const;

async function tenantName(db: Db, tenantId: string): Promise<string> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM tenants WHERE id = $1', [tenantId]);
  return rows[0]?.name ?? '';
}

async function userView(db: Db, user: SessionUser) {
  return { email: user.email, name: user.name, role: user.role, tenant: await tenantName(db, user.tenantId) };
}

export function sessionRoutes(app: FastifyInstance, db: Db, options: WebSecurityOptions): void {
  app.get('/ui/api/session', async (request, reply) => ({
    user: request.uiUser ? await userView(db, request.uiUser) : null,
    csrfToken: issueCsrfToken(request, reply, options),
  }));

  app.post<{ Body: { email: string; password: string } }>(
    '/ui/api/session',
    { schema: signInSchema },
    async (request, reply) => {
      const userId = await verifyCredentials(db, request.body.email, request.body.password);
      // One message for unknown email and wrong password: no account probing.
      if (!userId) throw new AlgaError('ALGA_UNAUTHENTICATED', 'The email or password is not correct.');
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

  app.delete('/ui/api/session', async (request, reply) => {
    await deleteSession(db, request.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, cookieOptions(request, options));
    request.uiUser = null;
    return { user: null, csrfToken: issueCsrfToken(request, reply, options) };
  });
}
