/**
 * The same realistic handler, as plain JavaScript for the in-process JS
 * sandboxes (isolated-vm, QuickJS). It calls host functions exactly as the
 * component does: context, config, one secret, one log line, small JSON.
 */
export const PLAIN_HANDLER = `
function handler(path) {
  const ctx = JSON.parse(host_context());
  const config = JSON.parse(host_config());
  const token = host_secret('api_token');
  host_log('handled ' + path);
  return JSON.stringify({ greeting: config.greeting, tenant: ctx.tenantId, install: ctx.installId, tokenLength: token.length });
}
`;

export const HOST_DATA = {
  context: JSON.stringify({ tenantId: 'tenant-bench', extensionId: 'bench-realistic', installId: 'install-bench' }),
  config: JSON.stringify({ greeting: 'Hello' }),
  secret: 'bench-secret-value-0123456789',
};
