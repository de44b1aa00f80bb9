import { createHandler, json } from '@alga-psa/extension-runtime';

/**
 * POST /summary — the backend of the iframe page in ui/. The page calls it
 * through the host's UI proxy (`callProxyJson('/summary', {...})`), so the
 * browser holds no API key; this handler decides what the page may see.
 */
export const handler = createHandler(async (request, ctx) => {
  const { days = 7 } = request.json<{ days?: number } | null>() ?? {};
  if (!Number.isInteger(days) || days < 1 || days > 90) {
    return json({ error: 'days must be an integer from 1 to 90' }, { status: 400 });
  }
  const user = await ctx.user();
  return json({
    title: ctx.config.get('title') ?? 'Team summary',
    greeting: user ? `Hello, ${user.userName}` : 'Hello',
    days,
  });
});
