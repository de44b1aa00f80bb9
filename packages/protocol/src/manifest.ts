/**
 * The extension manifest: one JSON Schema (`manifest.schema.json`, also usable
 * by editors) plus the checks a schema cannot express well (unique setting
 * keys, defaults that match their type, secrets only on text settings).
 * The server validates at publish, the CLI before it packs, with the same
 * function, so an author sees the same message in both places.
 */
import { Ajv, type ErrorObject } from 'ajv';
import schema from '../manifest.schema.json' with { type: 'json' };
import type { Capability } from './capabilities.ts';

export const MANIFEST_RUNTIME = 'wasm-js@1';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type SettingType = 'string' | 'text' | 'number' | 'boolean' | 'select' | 'multiselect';
export type SettingValue = string | number | boolean | string[];

export interface EndpointDefinition {
  method: HttpMethod;
  /** Starts with `/`; `:name` segments match any one path segment. */
  path: string;
  handler?: string;
  /** Also reachable from the extension's iframe UI through `/api/ext-proxy/:extensionId/*`. */
  proxy?: boolean;
}

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
}

export interface Manifest {
  $schema?: string;
  name: string;
  publisher: string;
  version: string;
  description?: string;
  runtime: typeof MANIFEST_RUNTIME;
  capabilities: Capability[];
  api: { endpoints: EndpointDefinition[] };
  ui?: { entry: string };
  allowedHosts: string[];
  settings: SettingDefinition[];
}

export interface FieldError {
  /** JSON-pointer-like path with dots, e.g. `settings[2].default`; empty for the whole document. */
  path: string;
  message: string;
}

export type ManifestValidation = { ok: true; manifest: Manifest } | { ok: false; errors: FieldError[] };

export { schema as manifestSchema };

// strict: false because the schema carries `$schema`/`$id` and descriptive keywords for editors.
const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(schema);

export function validateManifest(value: unknown): ManifestValidation {
  if (!validateSchema(value)) {
    return { ok: false, errors: dedupe((validateSchema.errors ?? []).map(friendlyError)) };
  }
  const manifest = value as unknown as Manifest;
  const errors = semanticErrors(manifest);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, manifest };
}

/** Config an install starts with: every non-secret setting's default. */
export function settingsDefaults(manifest: Pick<Manifest, 'settings'>): Record<string, SettingValue> {
  const config: Record<string, SettingValue> = {};
  for (const setting of manifest.settings) {
    if (!setting.secret && setting.default !== undefined) config[setting.key] = structuredClone(setting.default);
  }
  return config;
}

/** Keys of the settings declared `secret: true`. */
export function secretKeys(manifest: Pick<Manifest, 'settings'>): string[] {
  return manifest.settings.filter((setting) => setting.secret).map((setting) => setting.key);
}

/**
 * Checks a whole install config against the manifest's settings. Unknown keys
 * are refused (a typo must not be silently ignored), and secret keys are
 * refused here because secrets travel through their own encrypted endpoint.
 */
export function validateConfig(
  manifest: Pick<Manifest, 'settings'>,
  config: unknown,
): { field: string; message: string }[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    return [{ field: '', message: 'config must be a JSON object of setting key → value.' }];
  }
  const errors: { field: string; message: string }[] = [];
  const byKey = new Map(manifest.settings.map((setting) => [setting.key, setting]));
  const values = config as Record<string, unknown>;
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
function valueProblem(setting: SettingDefinition, value: unknown): string | undefined {
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

function semanticErrors(manifest: Manifest): FieldError[] {
  const errors: FieldError[] = [];
  const seenKeys = new Set<string>();
  manifest.settings.forEach((setting, index) => {
    const at = `settings[${index}]`;
    if (seenKeys.has(setting.key)) {
      errors.push({
        path: `${at}.key`,
        message: `Setting key "${setting.key}" is declared twice; each key must be unique.`,
      });
    }
    seenKeys.add(setting.key);
    const choice = setting.type === 'select' || setting.type === 'multiselect';
    if (setting.secret && setting.type !== 'string' && setting.type !== 'text') {
      errors.push({
        path: `${at}.secret`,
        message: `Only string or text settings can be secret; change "type" to "string" or drop "secret".`,
      });
    }
    if (setting.secret && setting.default !== undefined) {
      errors.push({
        path: `${at}.default`,
        message: `Secret setting "${setting.key}" cannot have a default; remove "default" (secrets are set per install).`,
      });
    }
    if (choice && !setting.options) {
      errors.push({
        path: `${at}.options`,
        message: `A ${setting.type} setting needs "options": [{ "value": "...", "label": "..." }].`,
      });
    }
    if (!choice && setting.options) {
      errors.push({
        path: `${at}.options`,
        message: `"options" only applies to select and multiselect settings; remove it or change "type".`,
      });
    }
    if (setting.options) {
      const values = setting.options.map((option) => option.value);
      if (new Set(values).size !== values.length)
        errors.push({ path: `${at}.options`, message: 'Option values must be unique.' });
    }
    if (setting.min !== undefined && setting.max !== undefined && setting.min > setting.max) {
      errors.push({ path: `${at}.min`, message: `"min" (${setting.min}) is greater than "max" (${setting.max}).` });
    }
    if (setting.default !== undefined && !setting.secret) {
      const problem = valueProblem(setting, setting.default);
      if (problem) errors.push({ path: `${at}.default`, message: `Default does not match the setting: ${problem}` });
    }
  });
  manifest.allowedHosts.forEach((host, index) => {
    const hostname = host.replace(/^https?:\/\//, '').split(/[:/]/)[0] ?? '';
    // "*.com" would allow a whole top-level domain: require a registrable name after the wildcard.
    if (hostname.startsWith('*.') && hostname.split('.').length < 3) {
      errors.push({
        path: `allowedHosts[${index}]`,
        message: `"${host}" is too broad; name a domain such as "*.example.com".`,
      });
    }
  });
  const seenRoutes = new Set<string>();
  manifest.api.endpoints.forEach((endpoint, index) => {
    const route = `${endpoint.method} ${endpoint.path.replace(/:[^/]+/g, ':')}`;
    if (seenRoutes.has(route)) {
      errors.push({
        path: `api.endpoints[${index}]`,
        message: `Endpoint ${endpoint.method} ${endpoint.path} is declared twice.`,
      });
    }
    seenRoutes.add(route);
  });
  return errors;
}

/** `/settings/2/key` → `settings[2].key`, the way authors read their JSON. */
function toPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

const PATTERN_HINTS: Record<string, string> = {
  name: 'must be a lowercase slug: a letter, then 2–63 letters, digits or dashes (e.g. "my-extension")',
  publisher: 'must be a lowercase slug: a letter, then 2–63 letters, digits or dashes (e.g. "acme")',
  version: 'must be a semantic version such as "1.0.0" or "1.2.0-beta.1"',
  key: 'must start with a lowercase letter and use only lowercase letters, digits and "_" (max 64), e.g. "api_base_url"',
  path: 'must start with "/" and use plain segments or ":param" segments, e.g. "/items/:id"',
  allowedHosts:
    'must be a host such as "api.example.com", "*.example.com" or "https://api.example.com:8443/v1"; wildcards like "*" or "http://*" are refused',
};

function friendlyError(error: ErrorObject): FieldError {
  const path = toPath(error.instancePath);
  const field = path === '' ? 'manifest' : path;
  const leaf =
    error.instancePath
      .split('/')
      .filter((part) => !/^\d+$/.test(part))
      .at(-1) ?? '';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const missing = String(params['missingProperty']);
      return { path: path ? `${path}.${missing}` : missing, message: `${field} is missing "${missing}"; add it.` };
    }
    case 'additionalProperties': {
      const extra = String(params['additionalProperty']);
      const allowed = allowedPropertiesAt(error.schemaPath);
      return {
        path: path ? `${path}.${extra}` : extra,
        message: `"${extra}" is not a known field of ${field}; remove it${allowed ? ` (allowed: ${allowed.join(', ')})` : ''}.`,
      };
    }
    case 'pattern':
      return { path, message: `${field} ${PATTERN_HINTS[leaf] ?? `must match ${String(params['pattern'])}`}.` };
    case 'const':
      return { path, message: `${field} must be ${JSON.stringify(params['allowedValue'])}.` };
    case 'enum':
      return {
        path,
        message: `${field} must be one of: ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}.`,
      };
    case 'type':
      return { path, message: `${field} must be of type ${String(params['type']).replace(/,/g, ' or ')}.` };
    case 'maxLength':
      return { path, message: `${field} must be at most ${String(params['limit'])} characters.` };
    case 'minLength':
      return { path, message: `${field} must not be empty.` };
    case 'minItems':
      return { path, message: `${field} must list at least ${String(params['limit'])} item(s).` };
    case 'uniqueItems':
      return {
        path,
        message: `${field} lists the same value twice (items ${String(params['j'])} and ${String(params['i'])}); remove the duplicate.`,
      };
    default:
      return { path, message: `${field} ${error.message ?? 'is invalid'}.` };
  }
}

function allowedPropertiesAt(schemaPath: string): string[] | undefined {
  // schemaPath looks like "#/properties/api/additionalProperties" or "#/definitions/setting/additionalProperties".
  let node: unknown = schema;
  for (const part of schemaPath.replace(/^#\//, '').split('/').slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  const properties = (node as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties ? Object.keys(properties).filter((key) => key !== '$schema') : undefined;
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const id = `${error.path}\u0000${error.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
