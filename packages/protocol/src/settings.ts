/**
 * An extension's settings: their definitions (from the manifest) and the
 * checks of an install's config against them. Pure functions without
 * dependencies, shared by the server (the authority), the CLI and the
 * browser UI, which shows the same messages on the same fields before saving.
 */
export type SettingType = 'string' | 'text' | 'number' | 'boolean' | 'select' | 'multiselect';
export type SettingValue = string | number | boolean | string[];

export interface SettingOption {
  value: string;
  label: string;
}

export interface SettingDefinition {
  key: string;
  type: SettingType;
  label: string;
  description?: string;
  default?: SettingValue;
  required?: boolean;
  options?: SettingOption[];
  min?: number;
  max?: number;
  category?: string;
  /** Stored encrypted per install, never part of config; only for string/text. */
  secret?: boolean;
  /**
   * Secret settings only: the hosts the value may be sent to
   * (`secret-egress.ts`). The guest then gets a handle, never the value.
   */
  egress?: string[];
}

/** One field of a config (or of a settings form) that does not validate. */
export interface ConfigFieldError {
  /** The setting's key (or `secrets.<key>`); empty for the whole object. */
  field: string;
  message: string;
}

/** What these checks need of a manifest. */
export interface SettingsOf {
  settings: SettingDefinition[];
}

/**
 * A config or secret key: the reference host's rule (`^[a-zA-Z0-9_.-]+$`,
 * so `ALGA_API_KEY`, `algaApiBase` and `api_key` are all keys), bounded.
 */
export const SETTING_KEY_PATTERN = /^[a-zA-Z0-9_.-]{1,64}$/;

/**
 * Names every plain JavaScript object already answers: as a config key,
 * `__proto__` vanished from the object that held it, and a lookup of
 * `toString` or `valueOf` in a record of keys finds the inherited function.
 */
export const RESERVED_SETTING_KEYS: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
]);

/** Why `key` is not a usable config or secret key, or undefined when it is. */
export function keyProblem(key: string): string | undefined {
  if (!SETTING_KEY_PATTERN.test(key)) {
    return `"${key.length > 80 ? `${key.slice(0, 80)}…` : key}" is not a valid key: use 1–64 letters, digits, "_", "." or "-".`;
  }
  return RESERVED_SETTING_KEYS.has(key) ? `"${key}" is reserved: choose another key.` : undefined;
}

/**
 * An extension whose manifest declares no settings (every reference-format
 * manifest) takes custom keys: an admin adds config and secret keys of any
 * valid name, as the reference host's settings page lets them.
 */
export function customKeysAllowed(manifest: SettingsOf): boolean {
  return manifest.settings.length === 0;
}

/** Config an install starts with: every non-secret setting's default. */
export function settingsDefaults(manifest: SettingsOf): Record<string, SettingValue> {
  const config: Record<string, SettingValue> = {};
  for (const setting of manifest.settings) {
    if (!setting.secret && setting.default !== undefined) config[setting.key] = structuredClone(setting.default);
  }
  return config;
}

/** Keys of the settings declared `secret: true`. */
export function secretKeys(manifest: SettingsOf): string[] {
  return manifest.settings.filter((setting) => setting.secret).map((setting) => setting.key);
}

/**
 * Checks a whole install config against the manifest's settings. Unknown keys
 * are refused (a typo must not be silently ignored), and secret keys are
 * refused here because secrets travel through their own encrypted endpoint.
 */
export function validateConfig(manifest: SettingsOf, config: unknown): ConfigFieldError[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    return [{ field: '', message: 'config must be a JSON object of setting key → value.' }];
  }
  const errors: ConfigFieldError[] = [];
  const values = config as Record<string, unknown>;
  if (customKeysAllowed(manifest)) {
    for (const [key, value] of Object.entries(values)) {
      const problem = keyProblem(key);
      if (problem) errors.push({ field: key, message: problem });
      else if (!['string', 'number', 'boolean'].includes(typeof value)) {
        errors.push({ field: key, message: `"${key}" must be a string, number or boolean.` });
      }
    }
    return errors;
  }
  const byKey = new Map(manifest.settings.map((setting) => [setting.key, setting]));
  for (const [key, value] of Object.entries(values)) {
    const setting = byKey.get(key);
    if (!setting) {
      const known = manifest.settings.filter((s) => !s.secret).map((s) => s.key);
      errors.push({
        field: key,
        message: `"${key}" is not a setting of this extension; known settings: ${known.length > 0 ? known.join(', ') : '(none)'}.`,
      });
      continue;
    }
    if (setting.secret) {
      errors.push({ field: key, message: `"${key}" is a secret; set it with PUT .../secrets/${key}, not in config.` });
      continue;
    }
    const problem = valueProblem(setting, value);
    if (problem) errors.push({ field: key, message: problem });
  }
  for (const setting of manifest.settings) {
    if (setting.secret || !setting.required) continue;
    const value = values[setting.key];
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
      errors.push({ field: setting.key, message: `"${setting.key}" (${setting.label}) is required.` });
    }
  }
  return errors;
}

/** Why `value` does not fit `setting`, or undefined when it does. */
export function valueProblem(setting: SettingDefinition, value: unknown): string | undefined {
  const key = setting.key;
  switch (setting.type) {
    case 'string':
    case 'text': {
      if (typeof value !== 'string') return `"${key}" must be a string.`;
      if (setting.min !== undefined && value.length < setting.min)
        return `"${key}" must be at least ${setting.min} characters.`;
      if (setting.max !== undefined && value.length > setting.max)
        return `"${key}" must be at most ${setting.max} characters.`;
      return undefined;
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `"${key}" must be a number.`;
      if (setting.min !== undefined && value < setting.min) return `"${key}" must be ≥ ${setting.min}.`;
      if (setting.max !== undefined && value > setting.max) return `"${key}" must be ≤ ${setting.max}.`;
      return undefined;
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `"${key}" must be true or false.`;
    case 'select': {
      const allowed = (setting.options ?? []).map((option) => option.value);
      if (typeof value !== 'string' || !allowed.includes(value))
        return `"${key}" must be one of: ${allowed.join(', ')}.`;
      return undefined;
    }
    case 'multiselect': {
      const allowed = (setting.options ?? []).map((option) => option.value);
      if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
        return `"${key}" must be an array of strings chosen from: ${allowed.join(', ')}.`;
      }
      const bad = value.filter((item) => !allowed.includes(item as string));
      if (bad.length > 0)
        return `"${key}" contains ${bad.map((b) => JSON.stringify(b)).join(', ')}; allowed: ${allowed.join(', ')}.`;
      if (new Set(value).size !== value.length) return `"${key}" lists a value twice.`;
      if (setting.min !== undefined && value.length < setting.min)
        return `"${key}" needs at least ${setting.min} choices.`;
      if (setting.max !== undefined && value.length > setting.max)
        return `"${key}" allows at most ${setting.max} choices.`;
      return undefined;
    }
  }
}
