/**
 * Validates an extension manifest: one JSON Schema (`manifest.schema.json`,
 * also usable by editors) plus the checks a schema cannot express well
 * (unique setting keys, defaults that match their type, secrets only on text
 * settings). The server validates at publish, the CLI before it packs, with
 * the same function, so an author sees the same message in both places.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schema from '../manifest.schema.json' with { type: 'json' };
import type { Manifest, ManifestProblem } from './manifest.ts';
import { clip } from './clip.ts';
import { valueProblem } from './settings.ts';

export type ManifestValidation = { ok: true; manifest: Manifest } | { ok: false; errors: ManifestProblem[] };

/**
 * Most problems one validation lists; past it the last entry counts the rest.
 * Every problem is also clipped (below), so an invalid manifest of any size
 * draws a few KiB of errors: 10,000 bad capabilities once drew 2 MB, each
 * entry repeating the allowed list.
 */
export const MAX_MANIFEST_PROBLEMS = 10;
/** Longest quote of the author's own text (an unknown field's name) inside a message. */
const MAX_QUOTE_CHARS = 80;
/** Longest path and message of one problem, whatever a message quotes (a long options list, say). */
const MAX_PATH_CHARS = 160;
const MAX_MESSAGE_CHARS = 320;

export { schema as manifestSchema };

let compiled: ValidateFunction | undefined;

/** Compiled on first use, so importing this package costs no schema compile (the browser UI never validates manifests). */
function validateSchema(): ValidateFunction {
  // strict: false because the schema carries `$schema`/`$id` and descriptive keywords for editors.
  compiled ??= new Ajv({ allErrors: true, strict: false }).compile(schema);
  return compiled;
}

export function validateManifest(value: unknown): ManifestValidation {
  const validate = validateSchema();
  if (!validate(value)) {
    // Only the problems that are listed are worded; the rest are only counted.
    const errors = validate.errors ?? [];
    return { ok: false, errors: firstProblems(errors, friendlyError, rawId) };
  }
  const manifest = value as unknown as Manifest;
  const errors = semanticErrors(manifest);
  return errors.length > 0
    ? { ok: false, errors: firstProblems(errors, (problem) => problem, problemId) }
    : { ok: true, manifest };
}

/**
 * The first `MAX_MANIFEST_PROBLEMS` distinct problems, clipped, then one
 * entry that counts the distinct problems left out.
 */
function firstProblems<T>(
  items: readonly T[],
  toProblem: (item: T) => ManifestProblem,
  idOf: (item: T) => string,
): ManifestProblem[] {
  const listed: ManifestProblem[] = [];
  const seen = new Set<string>();
  let omitted = 0;
  for (const item of items) {
    if (listed.length < MAX_MANIFEST_PROBLEMS) {
      const problem = clipProblem(toProblem(item));
      const id = problemId(problem);
      if (seen.has(id)) continue;
      seen.add(id);
      listed.push(problem);
    } else {
      const id = `\u0001${idOf(item)}`;
      if (seen.has(id)) continue;
      seen.add(id);
      omitted += 1;
    }
  }
  if (omitted > 0) {
    listed.push({
      path: '',
      message: `…and ${omitted} more problem${omitted === 1 ? '' : 's'} not listed; fix these and validate again.`,
    });
  }
  return listed;
}

const problemId = (problem: ManifestProblem) => `${problem.path}\u0000${problem.message}`;
const rawId = (error: ErrorObject) =>
  `${error.instancePath}\u0000${error.schemaPath}\u0000${JSON.stringify(error.params)}`;

function clipProblem(problem: ManifestProblem): ManifestProblem {
  return { path: clip(problem.path, MAX_PATH_CHARS), message: clip(problem.message, MAX_MESSAGE_CHARS) };
}

function semanticErrors(manifest: Manifest): ManifestProblem[] {
  const errors: ManifestProblem[] = [];
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

function friendlyError(error: ErrorObject): ManifestProblem {
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
      const extra = clip(String(params['additionalProperty']), MAX_QUOTE_CHARS);
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
