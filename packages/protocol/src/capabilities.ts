/**
 * Capability ids and the WIT interfaces they unlock. The manifest declares
 * capabilities, the server grants them per install, and the runner wires a
 * provider only when its capability was granted (deny by default).
 */
export const CAPABILITIES = {
  'cap:context.read': ['context', 'config', 'random'],
  'cap:secrets.get': ['secrets'],
  'cap:http.fetch': ['http'],
  'cap:storage.kv': ['storage'],
  'cap:log.emit': ['logging'],
  'cap:ui.proxy': ['ui-proxy'],
  'cap:user.read': ['user'],
} as const satisfies Record<string, readonly string[]>;

export type Capability = keyof typeof CAPABILITIES;

/** Granted to every install even when the manifest omits them. */
export const DEFAULT_CAPABILITIES: readonly Capability[] = ['cap:context.read', 'cap:log.emit'];

export const WIT_PACKAGE = 'alga:extension';
export const WIT_VERSION = '0.1.0';

export function isCapability(value: string): value is Capability {
  return Object.hasOwn(CAPABILITIES, value);
}

/** The capability that unlocks a WIT interface (`secrets` → `cap:secrets.get`). */
export function capabilityForInterface(iface: string): Capability | undefined {
  for (const [cap, ifaces] of Object.entries(CAPABILITIES)) {
    if ((ifaces as readonly string[]).includes(iface)) return cap as Capability;
  }
  return undefined;
}

/**
 * Parses a component import name such as `alga:extension/secrets@0.1.0`.
 * Components built against the reference host's unversioned package import
 * `alga:extension/secrets`; both are accepted when the major version matches.
 */
export function parseImportName(name: string): { iface: string; version?: string } | undefined {
  const match = /^alga:extension\/([a-z][a-z0-9-]*)(?:@(\d+)\.(\d+)\.(\d+)(?:-[0-9a-z.-]+)?)?$/.exec(name);
  if (!match) return undefined;
  const [, iface, major, minor, patch] = match;
  if (major === undefined) return { iface: iface! };
  const hostMajor = WIT_VERSION.split('.')[0];
  const hostMinor = Number(WIT_VERSION.split('.')[1]);
  // 0.x releases are only compatible within the same minor (semver for 0.x).
  if (major !== hostMajor || (major === '0' && Number(minor) > hostMinor)) return undefined;
  return { iface: iface!, version: `${major}.${minor}.${patch}` };
}
