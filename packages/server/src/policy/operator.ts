/**
 * The platform operator: one credential, distinct from every tenant's. It is
 * a key the operator chooses (at least 32 characters) and hands the server
 * in ALGA_OPERATOR_KEY or a 0600 file named by ALGA_OPERATOR_KEY_FILE; the
 * server keeps only its sha256 and compares in constant time. Without one,
 * every operator route answers 401: deny by default. Tenant API keys and
 * web sessions never reach operator routes (403 for a valid tenant key).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticateApiKey } from '../auth/api-keys.ts';
import type { Queryable } from '../db/index.ts';
import { operatorKeyInvalid, operatorKeyMissing, operatorNotConfigured, operatorOnly } from '../errors.ts';

export const MIN_OPERATOR_KEY_LENGTH = 32;

/** What the server keeps of the operator key: its hash, and the audit name derived from it. */
export interface OperatorCredential {
  readonly sha256: Buffer;
  /** `operator:<8 hex of the hash>`: tells rotated keys apart in the audit trail without revealing one. */
  readonly actor: string;
}

export function operatorCredential(key: string): OperatorCredential {
  if (key.length < MIN_OPERATOR_KEY_LENGTH || /\s/.test(key)) {
    throw new Error(
      `The operator key must be at least ${MIN_OPERATOR_KEY_LENGTH} characters without spaces (e.g. openssl rand -base64 32).`,
    );
  }
  const sha256 = createHash('sha256').update(key, 'utf8').digest();
  return { sha256, actor: `operator:${sha256.toString('hex').slice(0, 8)}` };
}

/** ALGA_OPERATOR_KEY, else the file ALGA_OPERATOR_KEY_FILE names (refused when others can read it); undefined when neither is set. */
export async function operatorCredentialFromEnv(env: NodeJS.ProcessEnv): Promise<OperatorCredential | undefined> {
  const direct = env['ALGA_OPERATOR_KEY'];
  if (direct) return operatorCredential(direct);
  const file = env['ALGA_OPERATOR_KEY_FILE'];
  if (!file) return undefined;
  if (((await stat(file)).mode & 0o077) !== 0) throw new Error(`${file} is readable by other users; chmod 600 it.`);
  return operatorCredential((await readFile(file, 'utf8')).trim());
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on operator routes once the operator key matched. */
    operator: { actor: string } | null;
  }
}

/** Authenticates every request of the scope it is registered in as the operator, or refuses it. */
export function registerOperatorAuth(
  app: FastifyInstance,
  deps: { db: Queryable; credential: OperatorCredential | undefined },
): void {
  app.decorateRequest('operator', null);
  app.addHook('onRequest', async (request) => {
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!match) throw deps.credential ? operatorKeyMissing() : operatorNotConfigured();
    const presented = match[1]!;
    if (presented.startsWith('alga_sk_')) {
      // A tenant key: 401 when it is not a valid one, 403 when it is (tenant admins included).
      await authenticateApiKey(deps.db, `Bearer ${presented}`);
      throw operatorOnly({ details: { reason: 'operator' } });
    }
    if (!deps.credential) throw operatorNotConfigured();
    const hash = createHash('sha256').update(presented, 'utf8').digest();
    if (!timingSafeEqual(hash, deps.credential.sha256)) throw operatorKeyInvalid();
    request.operator = { actor: deps.credential.actor };
  });
}

export function operatorOf(request: FastifyRequest): { actor: string } {
  if (!request.operator) throw operatorKeyMissing();
  return request.operator;
}
