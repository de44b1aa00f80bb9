import type { EndpointDefinition } from '@alga-psa/protocol';

export interface RouteMatch {
  endpoint: EndpointDefinition;
  params: Record<string, string>;
}

function segments(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

/**
 * Finds the declared endpoint for a method and path (below the extension's
 * mount point). Literal segments win over `:param` segments, so `/items/new`
 * reaches its own endpoint even when `/items/:id` is declared too.
 */
export function matchEndpoint(
  endpoints: readonly EndpointDefinition[],
  method: string,
  path: string,
): RouteMatch | undefined {
  const wanted = segments(path);
  // HEAD is a GET without the body (as on the reference host): it matches the GET endpoint.
  const asked = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  let best: { match: RouteMatch; literals: number } | undefined;
  for (const endpoint of endpoints) {
    if (endpoint.method !== asked) continue;
    const pattern = segments(endpoint.path);
    if (pattern.length !== wanted.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    const ok = pattern.every((part, index) => {
      const actual = wanted[index]!;
      if (part.startsWith(':')) {
        params[part.slice(1)] = actual;
        return true;
      }
      literals++;
      return part === actual;
    });
    if (ok && (!best || literals > best.literals)) best = { match: { endpoint, params }, literals };
  }
  return best?.match;
}
