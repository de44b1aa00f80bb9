/**
 * Who is calling the gateway: an API key (scripts, other services) or a
 * signed-in browser session (the web UI, and extension iframes through the
 * UI proxy). Tenant and role come from the credential only; a session also
 * tells the extension who the user is (`cap:user.read`).
 *
 * A session's state-changing request must prove it comes from our own pages:
 * its Origin (or Referer) must be the server's own origin or one listed in
 * ALGA_UI_ORIGINS, and it must carry the `x-alga-csrf` header. A cross-site
 * page can set neither without a CORS preflight, which this server never
 * grants, and the session cookie is SameSite=Strict besides — the
 * custom-request-header defence, without per-page token plumbing into
 * third-party iframe code.
 */
import { fastifyCookie } from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import { CSRF_HEADER, type ExecuteUser } from '@alga-psa/protocol';
import { authenticateApiKey, requireAdmin, type Principal } from '../auth/api-keys.ts';
import { resolveSession } from '../auth/session.ts';
import type { Db } from '../db/index.ts';
import { crossSiteGatewayWrite, sessionEnded } from '../errors.ts';
import { SESSION_COOKIE, originOf } from '../web/security.ts';
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface GatewayCaller {
  principal: Principal;
  /** Present for a signed-in user; API keys act for no one in particular. */
  user?: ExecuteUser;
}

export async function identifyCaller(
  db: Db,
  request: FastifyRequest,
  options: { allowedOrigins?: string[] } = {},
): Promise<GatewayCaller> {
  const write = !READ_METHODS.has(request.method);
  const sessionToken = request.headers.authorization
    ? undefined
    : fastifyCookie.parse(request.headers.cookie ?? '')[SESSION_COOKIE];
  if (!sessionToken) {
    const principal = await authenticateApiKey(db, request.headers.authorization);
    if (write) requireAdmin(principal);
    return { principal };
  }
  const user = await resolveSession(db, sessionToken);
  if (!user) throw sessionEnded();
  if (write) {
    // Normalized through URL so `http://host:80` and `http://host` compare equal.
    const allowed = (options.allowedOrigins ?? [`${request.protocol}://${request.host}`]).map(originOf);
    const origin = originOf(request.headers.origin) ?? originOf(request.headers.referer);
    if (!origin || !allowed.includes(origin) || !request.headers[CSRF_HEADER]) {
      throw crossSiteGatewayWrite({ header: CSRF_HEADER }, { details: { reason: 'csrf' } });
    }
  }
  return {
    principal: { tenantId: user.tenantId, role: user.role, keyId: '', actor: `user:${user.userId}` },
    user: {
      user_id: user.userId,
      user_email: user.email,
      user_name: user.name,
      // As on the reference host: staff are `internal`, a client-portal user is `client` with
      // its client id, and client-name is the tenant's company name.
      user_type: user.role === 'client' ? 'client' : 'internal',
      ...(user.clientId ? { client_id: user.clientId } : {}),
      client_name: user.tenantName,
    },
  };
}
