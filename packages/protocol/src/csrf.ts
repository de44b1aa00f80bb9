/**
 * The header a signed-in browser sends on every state-changing request (the
 * value is the session's CSRF token); the server refuses writes without it.
 * A module of its own, with no imports, so a browser bundle that needs only
 * this (extension iframes, through @alga-psa/extension-ui) carries nothing else.
 */
export const CSRF_HEADER = 'x-alga-csrf';
