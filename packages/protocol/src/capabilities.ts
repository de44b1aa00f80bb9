/**
 * The capability table: the ONE place that maps a capability id to the WIT
 * interfaces it unlocks and says, in the words an admin consents to, what it
 * lets an extension do. The manifest declares capabilities, the server grants
 * them per install (the CLI and the web UI show `consent`), publish checks a
 * component's imports against them, and the runner answers an interface only
 * when its capability was granted (deny by default).
 *
 * Adding a capability: one row here (at the end: `alga build` lists
 * interfaces in this order in every extension's generated entry, so moving a
 * row changes existing builds), the WIT interface in `wit/`, and the runner's
 * provider folder.
 */
export interface CapabilityInfo {
  /** The WIT interfaces (unversioned names) this capability unlocks. */
  readonly interfaces: readonly string[];
  /** What granting it allows, as the consent prompt shows it (a sentence without a final stop). */
  readonly consent: string;
}

export const CAPABILITIES = {
  'cap:context.read': {
    interfaces: ['context', 'config', 'random'],
    consent: 'Read its own install context and configuration',
  },
  'cap:secrets.get': { interfaces: ['secrets'], consent: 'Read the secrets you store for it (inside the runner only)' },
  'cap:log.emit': { interfaces: ['logging'], consent: 'Write log lines for this install' },
  'cap:http.fetch': { interfaces: ['http'], consent: 'Make outbound HTTPS requests to the hosts its manifest lists' },
  'cap:storage.kv': { interfaces: ['storage'], consent: 'Keep data in its own key-value storage for this install' },
  'cap:ui.proxy': { interfaces: ['ui-proxy'], consent: 'Call host routes on behalf of its UI' },
  'cap:user.read': { interfaces: ['user'], consent: 'Read the signed-in user’s name and email' },
} as const satisfies Record<string, CapabilityInfo>;

export type Capability = keyof typeof CAPABILITIES;

/** A WIT interface of the `alga:extension` world that some capability unlocks. */
export type WorldInterface = (typeof CAPABILITIES)[Capability]['interfaces'][number];

/** Granted to every install even when the manifest omits them. */
export const DEFAULT_CAPABILITIES: readonly Capability[] = ['cap:context.read', 'cap:log.emit'];

export const WIT_PACKAGE = 'alga:extension';
export const WIT_VERSION = '0.1.0';

export function isCapability(value: string): value is Capability {
  return Object.hasOwn(CAPABILITIES, value);
}

const BY_INTERFACE = new Map<string, Capability>(
  Object.entries(CAPABILITIES).flatMap(([cap, info]) => info.interfaces.map((iface) => [iface, cap as Capability])),
);

/** Every interface some capability unlocks, in table order. */
export const WORLD_INTERFACES: readonly WorldInterface[] = [...BY_INTERFACE.keys()] as WorldInterface[];

/** The capability that unlocks a WIT interface (`secrets` → `cap:secrets.get`). */
export function capabilityForInterface(iface: string): Capability | undefined {
  return BY_INTERFACE.get(iface);
}

/** What a capability allows, for a consent prompt; the id itself for an unknown one. */
export function consentText(capability: string): string {
  return isCapability(capability) ? CAPABILITIES[capability].consent : capability;
}

/** The capabilities an install of `declared` ends up with: the declared ones plus the defaults, sorted. */
export function grantedWith(declared: readonly string[]): string[] {
  return [...new Set([...declared, ...DEFAULT_CAPABILITIES])].sort();
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
