/**
 * Validates an extension manifest: one JSON Schema (`manifest.schema.json`,
 * also usable by editors) plus the checks a schema cannot express well
 * (unique setting keys, defaults that match their type, secrets only on text
 * settings). The server validates at publish, the CLI before it packs, with
 * the same function, so an author sees the same message in both places.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schema from '../manifest.schema.json' with { type: 'json' };
import referenceSchema from '../manifest.reference.schema.json' with { type: 'json' };
import {
  REFERENCE_MANIFEST_FORMAT,
  type EndpointDefinition,
  type HttpMethod,
  type Manifest,
  type ManifestProblem,
  type UiDefinition,
} from './manifest.ts';
import { UNPROVIDED_REFERENCE_CAPABILITIES, isCapability, type Capability } from './capabilities.ts';
import { clip } from './clip.ts';
import { egressOutsideAllowedHosts, secretEgressProblem } from './secret-egress.ts';
import { valueProblem } from './settings.ts';

/**
 * `notes` are what publish reports as warnings: the safe defaults applied to a
 * reference-format manifest (no egress until granted, dropped capabilities…),
 * and a secret's `egress` host that `allowedHosts` does not list.
 */
export type ManifestValidation =
  { ok: true; manifest: Manifest; notes: string[] } | { ok: false; errors: ManifestProblem[] };

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

export { schema as manifestSchema, referenceSchema as referenceManifestSchema };

let compiled: ValidateFunction | undefined;
let compiledReference: ValidateFunction | undefined;

/** Compiled on first use, so importing this package costs no schema compile (the browser UI never validates manifests). */
function validateSchema(): ValidateFunction {
  // strict: false because the schema carries `$schema`/`$id` and descriptive keywords for editors.
  compiled ??= new Ajv({ allErrors: true, strict: false }).compile(schema);
  return compiled;
}

function validateReferenceSchema(): ValidateFunction {
  compiledReference ??= new Ajv({ allErrors: true, strict: false }).compile(referenceSchema);
  return compiledReference;
}

/**
 * Which format a manifest is written in. This platform's format requires
 * `allowedHosts` and `settings`; the reference host's v2 format refuses both,
 * so a manifest with neither is read as a reference manifest.
 */
export function isReferenceManifest(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !Object.hasOwn(value, 'allowedHosts') &&
    !Object.hasOwn(value, 'settings')
  );
}

export function validateManifest(value: unknown): ManifestValidation {
  if (isReferenceManifest(value)) return validateReferenceManifest(value);
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
    : { ok: true, manifest, notes: egressOutsideAllowedHosts(manifest) };
}

/** A reference-format manifest as written (only the fields its schema allows). */
interface ReferenceManifest {
  name: string;
  publisher?: string;
  version: string;
  runtime: string;
  capabilities?: string[];
  ui?: { type: 'iframe'; entry: string; hooks?: Record<string, { label: string } | unknown> } & Record<string, unknown>;
  api?: { endpoints: { method: string; path: string; handler: string }[] } & Record<string, unknown>;
  assets?: string[];
  precompiled?: Record<string, string>;
}

const WILDCARD_VERSION = /^(\d+)\.(\d+)\.\*$/;

/** `a//b` → `a/b`, leading `./` removed, as the reference normalises endpoint paths and handlers. */
function cleanPath(path: string): string {
  let out = path.trim().replace(/\/{2,}/g, '/');
  while (out.startsWith('./')) out = out.slice(2);
  return out;
}

/**
 * Reads the reference host's enforced v2 format (REFERENCE-HOST.md §1) into
 * this platform's manifest, applying a safe default for everything the
 * reference format has no field for, and saying so in `notes`.
 */
function validateReferenceManifest(value: unknown): ManifestValidation {
  const validate = validateReferenceSchema();
  if (!validate(value)) {
    const errors = validate.errors ?? [];
    return {
      ok: false,
      errors: firstProblems(errors, (error) => friendlyError(error, referenceSchema, REFERENCE_PATTERN_HINTS), rawId),
    };
  }
  const ref = value as ReferenceManifest;
  const notes: string[] = [];
  const errors: ManifestProblem[] = [];
  const name = ref.name.trim();
  if (name.includes('..')) errors.push({ path: 'name', message: 'name must not contain "..".' });
  const publisher = ref.publisher?.trim();
  if (publisher === undefined) {
    notes.push(`The manifest names no publisher; "${name}" is recorded as its publisher.`);
  }

  const capabilities: Capability[] = [];
  for (const raw of ref.capabilities ?? []) {
    const id = raw.trim().toLowerCase();
    if (isCapability(id)) {
      if (!capabilities.includes(id)) capabilities.push(id);
    } else if (UNPROVIDED_REFERENCE_CAPABILITIES.includes(id)) {
      notes.push(
        `Capability "${id}" is not provided by this platform; it is dropped and its interface answers "not allowed".`,
      );
    } else {
      notes.push(
        `Capability "${clip(raw, MAX_QUOTE_CHARS)}" is unknown; it is dropped (the reference host drops it at install too).`,
      );
    }
  }

  const endpoints: EndpointDefinition[] = [];
  (ref.api?.endpoints ?? []).forEach((endpoint, index) => {
    const method = endpoint.method.toUpperCase();
    if (method === 'OPTIONS' || method === 'HEAD') {
      notes.push(
        `Endpoint ${index} (${method} ${endpoint.path}) is dropped: ${method} requests are answered by the gateway itself.`,
      );
      return;
    }
    // The reference matches segments literally but for `:name`: any name, no trailing slash.
    const path = `/${cleanPath(endpoint.path).replace(/^\/+/, '').replace(/\/+$/, '')}`;
    if (!REFERENCE_ENDPOINT_PATH.test(path)) {
      errors.push({
        path: `api.endpoints[${index}].path`,
        message: `api.endpoints[${index}].path must be a path such as "/api/items/:id", without spaces, control characters, "?" or "#".`,
      });
      return;
    }
    endpoints.push({ method: method as HttpMethod, path, handler: cleanPath(endpoint.handler) });
  });

  let ui: UiDefinition | undefined;
  if (ref.ui) {
    const entry = cleanPath(ref.ui.entry).replace(/^\/+/, '');
    const hooks: NonNullable<UiDefinition['hooks']> = {};
    for (const key of ['appMenu', 'clientPortalMenu'] as const) {
      const hook = ref.ui.hooks?.[key] as { label: string } | undefined;
      if (hook) hooks[key] = { label: hook.label.trim() };
    }
    ui = {
      type: 'iframe',
      entry,
      ...(Object.keys(hooks).length > 0 ? { hooks } : {}),
    };
  }

  if (!capabilities.includes('cap:user.read')) {
    // The reference host grants it to every install (with context and logging), so its
    // extensions read the user without listing it; listed here, the consent names it.
    capabilities.push('cap:user.read');
    notes.push('Capability "cap:user.read" is added: the reference host grants it to every extension.');
  }
  if (capabilities.includes('cap:http.fetch')) {
    notes.push(
      'The manifest lists no allowedHosts: the extension has no outbound HTTP until a tenant admin grants hosts for its install.',
    );
  }
  if (ref.api === undefined) {
    notes.push('The manifest has no "api" section: every method and path is sent to the component\'s handler.');
  }
  if (ref.runtime.trim() !== 'wasm-js@1') {
    notes.push(
      `Runtime "${clip(ref.runtime, MAX_QUOTE_CHARS)}" is read as "wasm-js@1": the component runs as any other.`,
    );
  }
  for (const [section, known] of [
    ['ui', ['type', 'entry', 'hooks']],
    ['api', ['endpoints']],
  ] as const) {
    const extra = Object.keys(ref[section] ?? {})
      .filter((key) => !(known as readonly string[]).includes(key))
      .slice(0, 10);
    if (extra.length > 0) {
      notes.push(
        `"${section}" fields ${extra.map((key) => `"${clip(key, MAX_QUOTE_CHARS)}"`).join(', ')} are not used here; they are ignored.`,
      );
    }
  }

  if (errors.length > 0) return { ok: false, errors: firstProblems(errors, (problem) => problem, problemId) };
  const version = ref.version.trim();
  const manifest: Manifest = {
    name,
    publisher: publisher ?? name,
    version,
    runtime: 'wasm-js@1',
    capabilities,
    api: { endpoints },
    ...(ui ? { ui } : {}),
    allowedHosts: [],
    settings: [],
    format: REFERENCE_MANIFEST_FORMAT,
    ...(ref.api === undefined ? { acceptsAnyPath: true } : {}),
    ...(WILDCARD_VERSION.test(version) ? { versionPattern: version } : {}),
    ...(ref.assets ? { assets: [...ref.assets] } : {}),
    ...(ref.precompiled ? { precompiled: { ...ref.precompiled } } : {}),
  };
  return { ok: true, manifest, notes };
}

/**
 * The version a wildcard `X.Y.*` publishes as: one past the highest stable
 * `X.Y.N` already published (pre-releases ignored), else `X.Y.0` — as the
 * reference host resolves it. A version without a wildcard is returned as is.
 */
export function resolveWildcardVersion(version: string, existing: readonly string[]): string {
  const match = WILDCARD_VERSION.exec(version);
  if (!match) return version;
  const [, major, minor] = match;
  let next = 0;
  for (const candidate of existing) {
    const stable = /^(\d+)\.(\d+)\.(\d+)$/.exec(candidate);
    if (stable && stable[1] === major && stable[2] === minor) next = Math.max(next, Number(stable[3]) + 1);
  }
  return `${major}.${minor}.${next}`;
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
    if (setting.egress !== undefined && !setting.secret) {
      errors.push({
        path: `${at}.egress`,
        message: `"egress" only applies to secret settings; add "secret": true or remove "egress".`,
      });
    }
    setting.egress?.forEach((entry, hostIndex) => {
      const problem = secretEgressProblem(entry);
      if (problem) errors.push({ path: `${at}.egress[${hostIndex}]`, message: problem });
    });
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
    const problem = tooBroad(host);
    if (problem) errors.push({ path: `allowedHosts[${index}]`, message: problem });
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

function tooBroad(host: string): string | undefined {
  const hostname = host.replace(/^https?:\/\//, '').split(/[:/]/)[0] ?? '';
  // "*.com" would allow a whole top-level domain: require a registrable name after the wildcard.
  return hostname.startsWith('*.') && hostname.split('.').length < 3
    ? `"${host}" is too broad; name a domain such as "*.example.com".`
    : undefined;
}

const HOST_PATTERN = new RegExp(schema.properties.allowedHosts.items.pattern);

/**
 * Why `host` cannot be an allowed host, or undefined when it can: the rules
 * of a manifest's `allowedHosts`, also applied to the hosts a tenant admin
 * grants an install.
 */
export function hostProblem(host: string): string | undefined {
  if (host.length > 512 || !HOST_PATTERN.test(host)) {
    return `"${clip(host, MAX_QUOTE_CHARS)}" ${PATTERN_HINTS['allowedHosts']}.`;
  }
  return tooBroad(host);
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
  key: 'must use only letters, digits, "_", "." and "-" (max 64), e.g. "api_base_url" or "ALGA_API_KEY"',
  path: 'must start with "/" and use plain segments or ":param" segments, e.g. "/items/:id"',
  egress:
    'must be an exact host such as "api.example.com", "api.example.com:8443" or "http://127.0.0.1:8080" (no wildcards, no path)',
  allowedHosts:
    'must be a host such as "api.example.com", "*.example.com" or "https://api.example.com:8443/v1"; wildcards like "*" or "http://*" are refused',
};

/** A reference endpoint path once normalised: no whitespace (the schema), control characters, query or fragment. */
const REFERENCE_ENDPOINT_PATH = /^\/[^\s?#\p{Cc}]*$/u;

/** The reference format's hints, where its rules differ from this platform's format. */
const REFERENCE_PATTERN_HINTS: Record<string, string> = {
  ...PATTERN_HINTS,
  name: 'must be letters, digits, ".", "_" or "-" (e.g. "com.example.reports"); it is the extension id in URLs',
  runtime: 'must name a runtime such as "wasm-js@1"',
  publisher: 'must not be blank',
  version: 'must be a semantic version such as "1.0.0", or a wildcard such as "0.3.*"',
  capabilities: 'must not be blank',
  entry: 'must not be blank or contain ".."',
  path: 'must not be blank or contain whitespace or ".."',
  handler: 'must not contain ".."',
  method: 'must be one of GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD',
  label: 'must not be blank',
  assets: 'must not be blank',
  precompiled: 'must not be blank',
};

function friendlyError(
  error: ErrorObject,
  against: object = schema,
  hints: Record<string, string> = PATTERN_HINTS,
): ManifestProblem {
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
      const allowed = allowedPropertiesAt(error.schemaPath, against);
      return {
        path: path ? `${path}.${extra}` : extra,
        message: `"${extra}" is not a known field of ${field}; remove it${allowed ? ` (allowed: ${allowed.join(', ')})` : ''}.`,
      };
    }
    case 'pattern':
      return { path, message: `${field} ${hints[leaf] ?? `must match ${String(params['pattern'])}`}.` };
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
    case 'not':
      // The schema's only `not`: a setting key that names a JavaScript object's internals.
      return {
        path,
        message: `${field} is a reserved name (a built-in property of JavaScript objects, such as __proto__ or toString); choose another.`,
      };
    case 'uniqueItems':
      return {
        path,
        message: `${field} lists the same value twice (items ${String(params['j'])} and ${String(params['i'])}); remove the duplicate.`,
      };
    default:
      return { path, message: `${field} ${error.message ?? 'is invalid'}.` };
  }
}

function allowedPropertiesAt(schemaPath: string, against: object): string[] | undefined {
  // schemaPath looks like "#/properties/api/additionalProperties" or "#/definitions/setting/additionalProperties".
  let node: unknown = against;
  for (const part of schemaPath.replace(/^#\//, '').split('/').slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  const properties = (node as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties ? Object.keys(properties).filter((key) => key !== '$schema') : undefined;
}
