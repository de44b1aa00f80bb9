/**
 * What the browser and the server agree on for the web UI and for extension
 * iframes calling the UI proxy with a session.
 */

/**
 * The header a signed-in browser sends on every state-changing request (the
 * value is the session's CSRF token); the server refuses writes without it.
 */
export const CSRF_HEADER = 'x-alga-csrf';
