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
export const WIT_VERSION = '0.3.0';

export function isCapability(value: string): value is Capability {
  return Object.hasOwn(CAPABILITIES, value);
}

const BY_INTERFACE = new Map<string, Capability>(
  Object.entries(CAPABILITIES).flatMap(([cap, info]) => info.interfaces.map((iface) => [iface, cap as Capability])),
);

/** Every interface some capability unlocks, in table order. */
export const WORLD_INTERFACES: readonly WorldInterface[] = [...BY_INTERFACE.keys()] as WorldInterface[];

/**
 * Interfaces of the reference host's world (`alga:extension`, REFERENCE-HOST.md
 * §5) beyond the table above. componentize-js imports a whole world, so a
 * reference component imports these whether it calls them or not: publish
 * accepts them and the runner links them. `capability` unlocks a provided
 * one; the PSA-specific ones are never provided here, so every call answers
 * the interface's own "not allowed" variant. `referenceCapability` is the
 * id the reference host uses for it (a manifest may list it; it is dropped
 * with a warning).
 */
export const REFERENCE_INTERFACES = {
  'user-v2': { capability: 'cap:user.read', referenceCapability: 'cap:user.read' },
  scheduler: { capability: undefined, referenceCapability: 'cap:scheduler.manage' },
  invoicing: { capability: undefined, referenceCapability: 'cap:invoice.manual.create' },
  clients: { capability: undefined, referenceCapability: 'cap:client.read' },
  services: { capability: undefined, referenceCapability: 'cap:service.read' },
} as const satisfies Record<string, { capability: Capability | undefined; referenceCapability: string }>;

export type ReferenceInterface = keyof typeof REFERENCE_INTERFACES;

/** The reference host's capability ids for interfaces this platform does not provide. */
export const UNPROVIDED_REFERENCE_CAPABILITIES: readonly string[] = Object.values(REFERENCE_INTERFACES)
  .filter((entry) => entry.capability === undefined)
  .map((entry) => entry.referenceCapability);

/** Interfaces that carry only types: importing them needs no capability. */
export const TYPE_ONLY_INTERFACES: readonly string[] = ['types'];

/** The capability that unlocks a WIT interface (`secrets` → `cap:secrets.get`, `user-v2` → `cap:user.read`). */
export function capabilityForInterface(iface: string): Capability | undefined {
  return (
    BY_INTERFACE.get(iface) ??
    (Object.hasOwn(REFERENCE_INTERFACES, iface)
      ? REFERENCE_INTERFACES[iface as ReferenceInterface].capability
      : undefined)
  );
}

/**
 * How publish, consent and the runner treat one `alga:extension` interface a
 * component imports:
 * - `capability`: answered when `capability` is granted, the deny path otherwise;
 * - `not-provided`: a reference-host interface this platform never provides (always the deny path);
 * - `types`: carries only types;
 * - `unknown`: not part of this WIT nor the reference's, refused at publish.
 */
export type InterfaceClass =
  { kind: 'capability'; capability: Capability } | { kind: 'not-provided' } | { kind: 'types' } | { kind: 'unknown' };

export function classifyInterface(iface: string): InterfaceClass {
  if (TYPE_ONLY_INTERFACES.includes(iface)) return { kind: 'types' };
  const capability = capabilityForInterface(iface);
  if (capability) return { kind: 'capability', capability };
  if (Object.hasOwn(REFERENCE_INTERFACES, iface)) return { kind: 'not-provided' };
  return { kind: 'unknown' };
}

/**
 * The interfaces a component imports without its manifest requesting them
 * (componentize-js imports the whole world): linked to the deny path, and
 * shown at publish and on the consent screen as "imported, not requested".
 * `imports` are full import names; WASI and unknown names are skipped.
 */
export function importedNotRequested(
  imports: readonly string[],
  capabilities: readonly string[],
): { iface: string; capability?: Capability }[] {
  const granted = new Set<string>(grantedWith(capabilities));
  const out = new Map<string, { iface: string; capability?: Capability }>();
  for (const name of imports) {
    const parsed = parseImportName(name);
    if (!parsed) continue;
    const kind = classifyInterface(parsed.iface);
    if (kind.kind === 'capability' && !granted.has(kind.capability)) {
      out.set(parsed.iface, { iface: parsed.iface, capability: kind.capability });
    } else if (kind.kind === 'not-provided') {
      out.set(parsed.iface, { iface: parsed.iface });
    }
  }
  return [...out.values()].sort((a, b) => (a.iface < b.iface ? -1 : a.iface > b.iface ? 1 : 0));
}

/** One line per entry of `importedNotRequested`, as publish, the CLI and the consent screen show it. */
export function describeNotRequested(entry: { iface: string; capability?: string }): string {
  return entry.capability
    ? `${entry.iface}: imported, not requested (needs ${entry.capability}; every call answers "not allowed")`
    : `${entry.iface}: imported, not provided by this platform (every call answers "not allowed")`;
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
