import { createHandler, json, SecretError } from '@alga-psa/extension-runtime';
import { fingerprint } from './fingerprint.ts';

interface Config extends Record<string, unknown> {
  greeting: string;
}

export const handler = createHandler<Config, 'api_token'>(async (request, ctx) => {
  const greeting = ctx.config.get('greeting') ?? 'Hello';
  let secret: { set: true; length: number; sha256Prefix: string } | { set: false; error: string; message: string };
  try {
    const token = await ctx.secrets.get('api_token');
    // Prove the token was read without revealing it: its length and a hash prefix.
    secret = { set: true, length: token.length, sha256Prefix: (await fingerprint(token)).slice(0, 8) };
    // The runner masks secret values in every log line, so even a careless
    // line like this one never prints the token.
    ctx.log.info(`secrets-demo read api_token ${token} for ${request.path}`);
  } catch (error) {
    if (!(error instanceof SecretError)) throw error;
    secret = { set: false, error: error.code, message: error.message };
    ctx.log.warn(`secrets-demo: api_token unavailable (${error.code})`);
  }
  return json({
    message: `${greeting} from ${ctx.context.extensionId}`,
    tenantId: ctx.context.tenantId,
    installId: ctx.context.installId,
    secret,
  });
});
