import { createHandler, json, SecretError } from '@alga-psa/extension-runtime';

/**
 * GET /hello — answers with the configured greeting and whether the
 * `api_token` secret is set. `alga build` generates types from manifest.json,
 * so `ctx.config.get('greetin')` or `ctx.secrets.get('undeclared')` fails to compile.
 */
export const handler = createHandler(async (request, ctx) => {
  const greeting = ctx.config.get('greeting') ?? 'Hello';
  let tokenSet = false;
  try {
    const token = await ctx.secrets.get('api_token');
    tokenSet = token.length > 0;
  } catch (error) {
    // 'missing' until someone runs `alga secrets set api_token`; anything else is worth a log line.
    if (!(error instanceof SecretError)) throw error;
    if (error.code !== 'missing') ctx.log.warn(`api_token unavailable: ${error.code}`);
  }
  ctx.log.info(`hello called on ${request.path}`);
  return json({ message: `${greeting} from ${ctx.context.extensionId}`, tokenSet });
});
