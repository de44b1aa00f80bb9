/**
 * The extension manifest's shape. Its validator (`validateManifest`) is the
 * separate entry `@alga-psa/protocol/manifest`, so importing the package does
 * not load the JSON Schema compiler.
 */
import type { Capability } from './capabilities.ts';
import type { SettingDefinition } from './settings.ts';

export const MANIFEST_RUNTIME = 'wasm-js@1';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export interface EndpointDefinition {
  method: HttpMethod;
  /** Starts with `/`; `:name` segments match any one path segment. */
  path: string;
  handler?: string;
  /** Also reachable from the extension's iframe UI through `/api/ext-proxy/:extensionId/*`. */
  proxy?: boolean;
}

/** A place in the host's navigation that opens the extension's UI. */
export interface UiHook {
  /** The menu entry's text. */
  label: string;
}

export interface UiDefinition {
  /** Only iframes exist; omitted means iframe (the reference host requires it). */
  type?: 'iframe';
  /** The page to open, relative to the bundle root, e.g. `ui/index.html`. */
  entry: string;
  hooks?: {
    /** A link in the admin and viewer navigation. */
    appMenu?: UiHook;
    /** A link in the client portal (users with the client role see only these). */
    clientPortalMenu?: UiHook;
  };
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
  ui?: UiDefinition;
  allowedHosts: string[];
  settings: SettingDefinition[];
  /**
   * Set on a manifest published in the reference host's v2 format
   * (`validateManifest` converted it); absent for this platform's own format.
   */
  format?: typeof REFERENCE_MANIFEST_FORMAT;
  /**
   * The manifest had no `api` section (reference format only): every method
   * and path goes to the component's one handler, as on the reference host.
   */
  acceptsAnyPath?: boolean;
  /** A wildcard version as written (`0.3.*`); `version` then holds what publish resolved it to. */
  versionPattern?: string;
  /** Reference format: kept as published, informational (nothing here reads them). */
  assets?: string[];
  precompiled?: Record<string, string>;
}

export const REFERENCE_MANIFEST_FORMAT = 'reference-v2';

export interface ManifestProblem {
  /** JSON-pointer-like path with dots, e.g. `settings[2].default`; empty for the whole document. */
  path: string;
  message: string;
}

/**
 * `ui.entry` as a path below the bundle's `ui/` folder. Authors write it
 * either from the bundle root (`ui/index.html`, as the reference host's
 * manifests do) or from `ui/` itself (`index.html`); both name the same file.
 */
export function uiEntryPath(entry: string): string {
  const path = entry.replace(/^(?:\.?\/)+/, '');
  return path.startsWith('ui/') ? path.slice('ui/'.length) : path;
}
