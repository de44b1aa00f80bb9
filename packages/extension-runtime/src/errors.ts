/** Why a secret could not be read. Each case says what the author can do about it. */
export type SecretErrorCode = 'not-declared' | 'missing' | 'denied' | 'expired' | 'unavailable';

const SECRET_HINTS: Record<SecretErrorCode, string> = {
  'not-declared':
    'add "cap:secrets.get" to "capabilities" in manifest.json and declare the key under "settings" with "secret": true',
  missing: 'the install has no value for this secret yet; set it in the extension settings or with `alga secrets set`',
  denied: 'the install was not granted "cap:secrets.get"; reinstall and grant it',
  expired: 'the secret envelope expired; retry the request',
  unavailable: 'the secret provider is unavailable; retry later',
};

export class SecretError extends Error {
  readonly code: SecretErrorCode;
  readonly key: string;
  constructor(code: SecretErrorCode, key: string) {
    super(`Secret "${key}" is unavailable (${code}): ${SECRET_HINTS[code]}.`);
    this.name = 'SecretError';
    this.code = code;
    this.key = key;
  }
}

export type ConfigErrorCode = 'not-declared' | 'denied' | 'unavailable';

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  constructor(code: ConfigErrorCode) {
    super(
      code === 'not-declared'
        ? 'Reading config needs "cap:context.read" in "capabilities" of manifest.json.'
        : `The install's config is unavailable (${code}).`,
    );
    this.name = 'ConfigError';
    this.code = code;
  }
}
