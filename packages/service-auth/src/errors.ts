/**
 * Every way a service token is refused, defined once: the `reason` a caller
 * maps to its own registry code (the runner's and the server's `auth.ts`) and
 * its message (`throw tokenAudience({ audience })`).
 * Not `AlgaError`s: this package knows no HTTP statuses, only why a token failed.
 * Messages name what is wrong with the token, never the token or the key.
 */
export type TokenRefusal = 'missing' | 'invalid' | 'expired' | 'audience' | 'scope';

export class ServiceTokenError extends Error {
  readonly reason: TokenRefusal;
  constructor(reason: TokenRefusal, message: string) {
    super(message);
    this.name = 'ServiceTokenError';
    this.reason = reason;
  }
}

const refusal = (reason: TokenRefusal, message: string) => (): ServiceTokenError =>
  new ServiceTokenError(reason, message);

export const tokenMissing = refusal('missing', 'A service token is required (Authorization: Bearer <token>).');
export const tokenInvalid = refusal('invalid', 'The service token is invalid.');
export const tokenExpired = refusal('expired', 'The service token has expired.');
export const tokenLifetimeTooLong = ({ max }: { max: number }) =>
  new ServiceTokenError(
    'invalid',
    `The service token is valid for longer than ${max} s; tokens must expire at most ${max} s after they are issued.`,
  );
export const tokenAudience = ({ audience }: { audience: string }) =>
  new ServiceTokenError('audience', `The service token is not for ${audience}.`);
export const tokenAudienceNotSingle = ({ audience }: { audience: string }) =>
  new ServiceTokenError('audience', `The service token names several audiences; it must name ${audience} alone.`);
export const tokenScope = ({ scope }: { scope: string }) =>
  new ServiceTokenError('scope', `The service token does not allow "${scope}".`);
