/**
 * Error answers of the reference host's bundle routes (`/api/ext-bundles/
 * upload-proxy` and `/finalize`, REFERENCE-HOST.md §1–§2), so its CLI can
 * read them: `{error, code, details?}` with the reference's codes where one
 * corresponds, `400 {error:"Invalid manifest", code:"INVALID_MANIFEST",
 * details:{issues}}`, `409 {success:false, error:{message, code:
 * "EXTENSION_VERSION_ALREADY_EXISTS"}}` and a fixed message for 5xx. Only
 * these routes answer so; every other route keeps `{error:{code,message}}`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AlgaError, type ErrorCode } from '@alga-psa/protocol';
import { toAlgaError } from '@alga-psa/protocol/fastify';
import { versionImmutable } from '../errors.ts';

export type ReferenceBundleRoute = 'upload-proxy' | 'finalize';

export interface ReferenceErrorAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Our registry codes → the reference's, where the reference has one. Others keep ours without `ALGA_`. */
const CODES: Partial<Record<ErrorCode, string>> = {
  ALGA_BAD_REQUEST: 'BAD_REQUEST',
  ALGA_VALIDATION_FAILED: 'BAD_REQUEST',
  ALGA_FORBIDDEN: 'RBAC_FORBIDDEN',
  ALGA_BUNDLE_HASH_MISMATCH: 'HASH_MISMATCH',
  ALGA_INVALID_MANIFEST: 'INVALID_MANIFEST',
  ALGA_RATE_LIMITED: 'RATE_LIMIT',
};

/** The reference answers 400 for these; ours are 422. */
const BAD_REQUEST_400: ReadonlySet<string> = new Set(['HASH_MISMATCH', 'INVALID_MANIFEST', 'MANIFEST_NOT_FOUND']);

/** The message the reference puts in place of any 5xx one (finalize's; upload-proxy's is its counterpart). */
const INTERNAL_MESSAGE: Record<ReferenceBundleRoute, string> = {
  finalize: 'Failed to finalize extension bundle.',
  'upload-proxy': 'Failed to upload extension bundle.',
};

function templateMatches(template: string, message: string): boolean {
  const pattern = template
    .split(/\{[A-Za-z]+\}/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${pattern}$`).test(message);
}

function manifestIssues(error: AlgaError): { path: string; message: string }[] {
  const details = Array.isArray(error.details) ? (error.details as { path?: unknown; message?: unknown }[]) : [];
  const issues = details
    .filter((d) => typeof d.message === 'string')
    .map((d) => ({ path: typeof d.path === 'string' ? d.path : '', message: d.message as string }));
  return issues.length > 0 ? issues : [{ path: '', message: error.message }];
}

export function referenceErrorAnswer(error: unknown, route: ReferenceBundleRoute): ReferenceErrorAnswer {
  const alga = toAlgaError(error);
  if (alga.status >= 500) {
    return { status: alga.status, body: { error: INTERNAL_MESSAGE[route], code: 'INTERNAL_ERROR' } };
  }
  if (alga.code === 'ALGA_VERSION_CONFLICT' && templateMatches(versionImmutable.template, alga.message)) {
    return {
      status: 409,
      body: { success: false, error: { message: alga.message, code: 'EXTENSION_VERSION_ALREADY_EXISTS' } },
    };
  }
  const reason = (alga.details as { reason?: unknown } | undefined)?.reason;
  let code = CODES[alga.code] ?? alga.code.replace(/^ALGA_/, '');
  if (reason === 'missing-file' && /no manifest\.json/.test(alga.message)) code = 'MANIFEST_NOT_FOUND';
  const status = BAD_REQUEST_400.has(code) ? 400 : alga.status;
  if (code === 'INVALID_MANIFEST') {
    return { status, body: { error: 'Invalid manifest', code, details: { issues: manifestIssues(alga) } } };
  }
  return {
    status,
    body: { error: alga.message, code, ...(alga.details === undefined ? {} : { details: alga.details }) },
  };
}

/** A Fastify error handler answering in the reference's format; `retry-after` on 429 from `details.retryAfterSeconds`. */
export function referenceErrorHandler(route: ReferenceBundleRoute) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const answer = referenceErrorAnswer(error, route);
    if (answer.status >= 500) request.log.error({ err: toAlgaError(error).cause ?? error }, 'request failed');
    const retryAfter = (toAlgaError(error).details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (answer.status === 429 && typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    return reply
      .code(answer.status)
      .header('x-request-id', request.id)
      .header('content-type', 'application/json; charset=utf-8')
      .send(answer.body);
  };
}
