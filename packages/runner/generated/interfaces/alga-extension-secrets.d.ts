// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/secrets@0.3.0 **/
export function get(key: string): string;
export function listKeys(): Array<string>;
/**
 * Additive (0.3.0): an opaque placeholder for a secret whose manifest
 * setting lists `egress` hosts. Only valid in this execution; `http` puts
 * the value in its place on a request to one of those hosts.
 */
export function handle(key: string): string;
/**
 * Additive (0.3.0): the hosts a secret may be sent to; empty when the
 * secret is not egress-bound (then `get` reads it).
 */
export function egressHosts(key: string): Array<string>;
export type SecretError = import('./alga-extension-types.js').SecretError;
