import { createHandler, HttpError, json, SecretError } from '@alga-psa/extension-runtime';

/**
 * GET /profile — fetches `<api_base_url>/v1/me` with `Authorization: Bearer
 * <api_token>` and answers the remote's JSON. `api_token` lists `egress`
 * hosts in the manifest, so this code only ever holds a handle: the runner
 * puts the token in its place on the way to api.example.com and refuses the
 * request anywhere else.
 */
export const handler = createHandler(async (_request, ctx) => {
  const base = String(ctx.config.get('api_base_url') ?? 'https://api.example.com').replace(/\/+$/, '');
  let token: string;
  try {
    token = await ctx.secrets.handle('api_token');
  } catch (error) {
    if (error instanceof SecretError) return json({ error: error.code, message: error.message }, { status: 503 });
    throw error;
  }
  try {
    const response = await ctx.http.fetch(`${base}/v1/me`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
    if (!response.ok) {
      ctx.log.warn(`profile API answered ${response.status}`);
      return json({ error: 'upstream', status: response.status }, { status: 502 });
    }
    return json({ profile: response.json() });
  } catch (error) {
    // not-allowed carries the allowedHosts entry to add; surface it for the author.
    if (error instanceof HttpError) {
      return json(
        { error: error.code, hint: error.message, add: error.allowedHostsEntry ?? null, secret: error.secret ?? null },
        { status: 502 },
      );
    }
    throw error;
  }
});
