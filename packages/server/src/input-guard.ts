/**
 * One check for every route: the text a request brings — its path
 * parameters, query names and values, and every string of a JSON body —
 * must be text the database can hold. PostgreSQL and PGlite refuse a NUL in
 * text (and in jsonb) with an error, which reached clients as a 500 (issue
 * 21); a string holding half a surrogate pair is not Unicode at all. Either
 * is a 400 here, so no id, key, cursor or config value reaches SQL carrying
 * one, whichever route a later change adds.
 *
 * The URL is checked first thing (before authentication, which reads the
 * database); the body once it is parsed. Bodies kept as bytes (bundles,
 * archives, the gateway's guest bodies) are not text and are not looked at.
 * What an id must look like (a slug, a UUID) stays each route's business;
 * URLs the router cannot decode at all, or with a segment longer than its
 * limit, never reach a route: `algaFrameworkErrors` answers them.
 */
import type { FastifyInstance } from 'fastify';
import { bodyTextInvalid, jsonBodyRequired, urlTextInvalid } from './errors.ts';

// A UTF-16 surrogate without its pair: with `u`, a paired one is a single (non-Cs) code point.
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether the database could not store `text` (PostgreSQL text and jsonb alike). */
export const unstorable = (text: string): boolean => text.includes('\0') || LONE_SURROGATE.test(text);

/** Whether any name or value (or repeated value) of a params or query object is unstorable text. */
function urlPartHoldsUnstorable(values: unknown): boolean {
  if (typeof values !== 'object' || values === null) return false;
  for (const [name, value] of Object.entries(values)) {
    if (unstorable(name)) return true;
    if (typeof value === 'string' ? unstorable(value) : Array.isArray(value) && value.some(unstorableItem)) {
      return true;
    }
  }
  return false;
}

const unstorableItem = (item: unknown) => typeof item === 'string' && unstorable(item);

/** Whether any string (or property name) anywhere in a parsed JSON value is unstorable; iterative, so nesting depth costs no stack. */
function jsonHoldsUnstorable(body: unknown): boolean {
  const pending: unknown[] = [body];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (unstorable(value)) return true;
    } else if (Array.isArray(value)) {
      // A loop, not push(...value): a 100,000-item array would overflow the argument list.
      for (const item of value) pending.push(item);
    } else if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) {
      for (const [name, item] of Object.entries(value)) {
        if (unstorable(name)) return true;
        pending.push(item);
      }
    }
  }
  return false;
}

/** Registers the checks on `app` and every route registered after it (call it on the root, before any route). */
export function registerInputGuard(app: FastifyInstance): void {
  // Callback hooks: they run on every request, the gateway's included, and allocate nothing when all is well.
  app.addHook('onRequest', (request, _reply, done) => {
    if (urlPartHoldsUnstorable(request.params)) return done(urlTextInvalid({ part: 'path' }));
    if (urlPartHoldsUnstorable(request.query)) return done(urlTextInvalid({ part: 'query string' }));
    done();
  });
  app.addHook('preValidation', (request, _reply, done) => {
    // Buffers (bytes bodies) are views; only parsed JSON is walked.
    if (ArrayBuffer.isView(request.body)) {
      // Bytes sent to a route whose schema wants JSON (the API scope parses bundles and
      // archives as bytes): refused before the schema reports each byte as a problem.
      return done(request.routeOptions.schema?.body ? jsonBodyRequired() : undefined);
    }
    if (request.body !== undefined && jsonHoldsUnstorable(request.body)) return done(bodyTextInvalid());
    done();
  });
}
