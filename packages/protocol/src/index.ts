/**
 * `@alga-psa/protocol`: what the server, runner, CLI and web UI agree on.
 * Importing it has no side effects (no schema is compiled until used), and
 * nothing here needs Node built-ins, so the browser UI can import it too.
 * The Fastify error plugin is a separate entry: `@alga-psa/protocol/fastify`.
 */
export * from './allowed-hosts.ts';
export * from './api-keys.ts';
export * from './bundle.ts';
export * from './capabilities.ts';
export * from './csrf.ts';
export * from './errors.ts';
export * from './execute.ts';
export * from './manifest.ts';
export * from './policy.ts';
export * from './publish.ts';
export * from './runner-api.ts';
export * from './secret-egress.ts';
export * from './settings.ts';
export * from './tenants.ts';
export * from './ui-bridge.ts';
export * from './wasi.ts';
export * from './web-api.ts';
