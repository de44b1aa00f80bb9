/**
 * Calls to `/api/v1/operator/*` with the operator key as a bearer token and
 * no cookie (`credentials: 'omit'`): the operator routes take no session.
 */
export async function operatorCall<T>(
  key: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: {
      accept: 'application/json',
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    credentials: 'omit',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json().catch(() => undefined)) as
    { error?: { message?: string; code?: string } } | undefined;
  if (!response.ok) {
    const error = new Error(json?.error?.message ?? `The server answered ${response.status}.`);
    (error as Error & { status: number }).status = response.status;
    throw error;
  }
  return json as T;
}
