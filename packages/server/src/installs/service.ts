/**
 * What can be done to an install, whichever door the request came through
 * (API key or web session): install or upgrade, uninstall, enable and
 * disable, save config, save settings (config and secrets together), reset,
 * set and delete a secret. Each change is ONE transaction with its audit
 * row(s) in it; secrets are encrypted before the transaction opens, so a
 * transit failure writes nothing. The adapters (routes/, web/) only map
 * HTTP to these calls.
 *
 * The gateway reads installs through `runtime()`, a per-install cache that
 * the store empties itself on every write in this process.
 */
import { LRUCache } from 'lru-cache';
import { boundedDetails } from '@alga-psa/protocol/fastify';
import { hostProblem } from '@alga-psa/protocol/manifest';
import {
  DEFAULT_CAPABILITIES,
  consentText,
  customKeysAllowed,
  describeNotRequested,
  grantedWith,
  importedNotRequested,
  isCapability,
  keyProblem,
  secretAad,
  secretKeys,
  settingsDefaults,
  validateConfig,
  type ConfigFieldError,
  type Consent,
  type InstallInfo,
  type Manifest,
  type SecretEnvelope,
  type SecretMeta,
  secretEgressOf,
} from '@alga-psa/protocol';
import type { Encrypter } from '@alga-psa/transit';
import type { Db } from '../db/index.ts';
import {
  alreadyInstalled,
  configInvalid,
  consentMissing,
  egressInvalid,
  grantMissing,
  grantUndeclared,
  noSuchExtension,
  noSuchExtensionVersion,
  noSuchInstall,
  noSuchVersion,
  notInstalled,
  notPublished,
  secretEmpty,
  secretExpiryInvalid,
  secretTooLarge,
  secretKeyInvalid,
  secretUndeclared,
  settingsInvalid,
  settingsNotEncrypted,
  unknownCapabilities,
} from '../errors.ts';
import { findVersion, type FoundVersion } from '../registry.ts';
import { transitFailure } from '../transit.ts';
import {
  InstallStore,
  type AuditEntry,
  type InstallRow,
  type InstallSummary,
  type InstallWriter,
  type StoredConfig,
} from './store.ts';

export { type InstallRow, type InstallSummary } from './store.ts';

/** Bytes of one secret value. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** Who acts, for the audit log: the tenant from the credential, how the log names the person, the request. */
export interface Actor {
  tenantId: string;
  actor: string;
  requestId: string;
}

/** What the gateway sends a runner for one install. */
export interface InstallRuntime {
  install: InstallRow;
  config: Record<string, unknown>;
  configVersion: number;
  /** The granted capabilities provider policy still allows the tenant: what the runner answers. */
  capabilities: string[];
  /** Null when the install was not granted `cap:secrets.get`, or policy disables it. */
  envelope: SecretEnvelope | null;
}

/** Provider policy as installs obey it (policy/service.ts). */
export interface InstallPolicy {
  allowed(tenantId: string, granted: readonly string[]): Promise<string[]>;
  assertInstallable(tenantId: string, granted: readonly string[]): Promise<void>;
}

/** An install with its config and secret metadata (never a value). */
export interface InstallState {
  install: InstallRow;
  config: Record<string, unknown>;
  configVersion: number;
  secrets: SecretMeta[];
  /**
   * Required secrets the installed version does not get: never set, or
   * withheld (below). The install will not work until they are set.
   */
  missingSecrets: string[];
  /**
   * Stored secrets a runner is not given: the installed version does not
   * declare them, or declares looser egress terms than they were set under.
   * Kept (encrypted); setting one again under the current terms delivers it.
   */
  undeliveredSecrets: string[];
}

export interface SettingsChange {
  /** The whole config. */
  config: Record<string, unknown>;
  secrets?: { set?: Record<string, string>; clear?: string[]; expires?: Record<string, string> };
}

/** Why an expiry is refused (null when it is a valid future time): a past one would store a secret no guest can read. */
export function expiryProblem(iso: string, now = Date.now()): string | null {
  const at = Date.parse(iso);
  const date = /^(\d{4})-(\d{2})-(\d{2})T/.exec(iso);
  if (!date || Number.isNaN(at)) return 'The expiry must be an ISO 8601 date and time.';
  // Date.parse rolls 2099-02-30 over to March 2: a day the calendar lacks is refused, not moved.
  const [year, month, day] = date.slice(1).map(Number) as [number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) {
    return `The expiry names a day the calendar does not have (${date[0].slice(0, 10)}).`;
  }
  if (at <= now) return 'The expiry must be in the future.';
  return null;
}

export interface InstallServiceOptions {
  db: Db;
  encrypter: Pick<Encrypter, 'encrypt' | 'keyRef'>;
  /** How long the gateway may serve an install's cached runtime (another process's writes). Default 5000 ms. */
  runtimeTtlMs?: number;
  /** Has the runners load a freshly installed or upgraded bundle now (best effort). */
  prepare?(install: InstallRow): Promise<void>;
  /** Told whether each gateway lookup of a runtime was served from the cache (metrics). */
  onRuntimeLookup?(hit: boolean): void;
  /** Provider policy: refuses installs needing a disabled capability, filters what runtimes get. None: all allowed. */
  policy?: InstallPolicy;
}

/** The install as both APIs show it. */
export function installInfo(install: InstallRow): InstallInfo {
  return {
    id: install.id,
    extensionId: install.extensionId,
    version: install.version,
    contentHash: install.contentHash,
    grantedCapabilities: install.grantedCapabilities,
    egressGrants: install.egressGrants,
    enabled: install.enabled,
    createdAt: install.createdAt.toISOString(),
    updatedAt: install.updatedAt.toISOString(),
  };
}

/** Required secret settings that are not among `keys` (the keys set, or the keys delivered). */
export function missingSecrets(manifest: Manifest, keys: readonly string[]): string[] {
  return manifest.settings.filter((s) => s.secret && s.required && !keys.includes(s.key)).map((s) => s.key);
}

/**
 * Required secrets an install's guest does not get, from what a list of
 * installs holds: never set, or withheld for looser egress terms. Custom-key
 * manifests (the only ones `egressBound` concerns) declare no required secret.
 */
export function unmetSecrets(
  manifest: Manifest,
  stored: readonly string[],
  egressAtSet: Readonly<Record<string, readonly string[]>>,
): string[] {
  return missingSecrets(manifest, deliveredSecrets(manifest, stored, [], egressAtSet));
}

/**
 * The stored secrets an install's guest may be handed under `manifest`: only
 * the keys it declares as secret settings, on the terms it declares now (the
 * gateway's `secret_egress` comes from the same manifest). A manifest without
 * settings takes custom keys, so every stored key goes, except one that a
 * version of the extension binds to egress hosts (`egressBound`): that value
 * was set for a handle, never for the guest to read. The rest stay stored,
 * encrypted (a later version that declares them again uses them), and reach
 * no runner: not in the envelope, so `get`, `handle` and `list-keys` answer
 * as for a key never set.
 */
export function deliveredSecrets(
  manifest: Manifest,
  stored: readonly string[],
  egressBound: readonly string[] = [],
  egressAtSet: Readonly<Record<string, readonly string[]>> = {},
): string[] {
  const declared = customKeysAllowed(manifest)
    ? stored.filter((key) => !egressBound.includes(key))
    : stored.filter((key) => secretKeys(manifest).includes(key));
  // A value set to be sent only to some hosts goes to no version whose terms are looser (read in
  // plain, or sent to another host) until an admin sets it again under those terms.
  const egress = secretEgressOf(manifest.settings);
  return declared.filter((key) => {
    const boundTo = egressAtSet[key];
    if (!boundTo) return true;
    const now = egress[key] ?? [];
    return now.length > 0 && now.every((host) => boundTo.includes(host));
  });
}

/** Keys whose value differs between two configs. */
function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .sort();
}

/** Checks a grant against the manifest: every declared capability is required, nothing undeclared is granted. */
function resolveGrant(manifest: Manifest, grant: string[] | undefined): string[] {
  const requested = grant ?? manifest.capabilities;
  const unknown = requested.filter((id) => !isCapability(id));
  if (unknown.length > 0) throw unknownCapabilities({ ids: unknown.join(', ') }, { details: { unknown } });
  const missing = manifest.capabilities.filter((cap) => !requested.includes(cap));
  if (missing.length > 0) {
    throw grantMissing(
      { capabilities: missing.join(', ') },
      { details: missing.map((cap) => ({ field: 'grant', message: `${cap} is required by the manifest` })) },
    );
  }
  const extra = requested.filter(
    (cap) => !manifest.capabilities.includes(cap as never) && !DEFAULT_CAPABILITIES.includes(cap as never),
  );
  if (extra.length > 0) {
    throw grantUndeclared(
      { capabilities: extra.join(', ') },
      { details: extra.map((cap) => ({ field: 'grant', message: `${cap} is not declared by the manifest` })) },
    );
  }
  return grantedWith(requested);
}

/** On upgrade, keep values for settings that still exist and still validate; take new defaults for the rest. */
function carryConfig(manifest: Manifest, previous: Record<string, unknown>): Record<string, unknown> {
  const next: Record<string, unknown> = settingsDefaults(manifest);
  for (const [key, value] of Object.entries(previous)) {
    if (validateConfig({ settings: manifest.settings.filter((s) => s.key === key) }, { [key]: value }).length === 0) {
      next[key] = value;
    }
  }
  return next;
}

/** What installing a version asks an admin to consent to. */
function consentFor(found: FoundVersion): Consent {
  return {
    extensionId: found.manifest.name,
    version: found.version,
    publisher: found.manifest.publisher,
    description: found.manifest.description ?? null,
    allowedHosts: found.manifest.allowedHosts,
    capabilities: grantedWith(found.manifest.capabilities).map((id) => ({ id, description: consentText(id) })),
    notRequested: importedNotRequested(found.imports ?? [], found.manifest.capabilities).map((entry) => ({
      ...entry,
      description: describeNotRequested(entry),
    })),
    acceptsAnyPath: found.manifest.acceptsAnyPath === true,
    secretEgress: secretEgressOf(found.manifest.settings),
  };
}

const runtimeKey = (tenantId: string, extensionId: string) => `${tenantId}\u0000${extensionId}`;

export class InstallService {
  /** The installs' SQL; the runner API and publishing read and audit through it too. */
  readonly store: InstallStore;
  readonly #db: Db;
  readonly #encrypter: Pick<Encrypter, 'encrypt' | 'keyRef'>;
  readonly #prepare: ((install: InstallRow) => Promise<void>) | undefined;
  readonly #onRuntimeLookup: ((hit: boolean) => void) | undefined;
  readonly #policy: InstallPolicy | undefined;
  // Values are wrapped: "not installed" (null) is cached too, and lru-cache stores no null.
  readonly #runtimes: LRUCache<string, { runtime: InstallRuntime | null }>;

  constructor(options: InstallServiceOptions) {
    this.#db = options.db;
    this.#encrypter = options.encrypter;
    this.#prepare = options.prepare;
    this.#onRuntimeLookup = options.onRuntimeLookup;
    this.#policy = options.policy;
    // Bounded, so a burst of tenants cannot grow it without limit; the TTL bounds
    // how long another server process's write stays unseen here.
    this.#runtimes = new LRUCache({ max: 10_000, ttl: options.runtimeTtlMs ?? 5_000 });
    this.store = new InstallStore(options.db, {
      invalidate: (tenantId, extensionId) => this.#runtimes.delete(runtimeKey(tenantId, extensionId)),
    });
  }

  // ── Reads ──────────────────────────────────────────────────────────────────

  /** The tenant's install of `extensionId`, or 404. */
  async get(tenantId: string, extensionId: string): Promise<InstallRow> {
    const install = await this.store.find(tenantId, extensionId);
    if (!install) throw notInstalled({ extensionId });
    return install;
  }

  /** The tenant's install with this id, or 404 (the same for another tenant's id and a made-up one). */
  async getById(tenantId: string, installId: string): Promise<InstallRow> {
    const install = await this.store.findById(tenantId, installId);
    if (!install) throw noSuchInstall();
    return install;
  }

  /** The tenant's installs, by extension id. */
  list(tenantId: string): Promise<InstallSummary[]> {
    return this.store.list(tenantId);
  }

  async state(install: InstallRow): Promise<InstallState> {
    const [{ config, version }, secrets] = await Promise.all([
      this.store.config(install.id),
      this.store.secretMeta(install),
    ]);
    const set = secrets.filter((secret) => secret.set).map((secret) => secret.key);
    const delivered = await this.#delivered(this.store, install, set);
    return {
      install,
      config,
      configVersion: version,
      secrets,
      missingSecrets: missingSecrets(install.manifest, delivered),
      undeliveredSecrets: set.filter((key) => !delivered.includes(key)),
    };
  }

  /** A version (the latest by default) of a published extension and what installing it asks consent for. */
  async consent(extensionId: string, version?: string): Promise<Consent> {
    const found = await findVersion(this.#db, extensionId, version);
    if (!found) throw noSuchExtension();
    if ('available' in found)
      throw noSuchVersion({ extensionId, version: version ?? '', available: found.available.join(', ') });
    return consentFor(found);
  }

  /**
   * What the gateway sends a runner, cached per install for `runtimeTtlMs`
   * (writes in this process drop it at once); null when not installed.
   */
  async runtime(tenantId: string, extensionId: string): Promise<InstallRuntime | null> {
    const direct = await this.#runtime(tenantId, extensionId);
    if (direct) return direct;
    // The reference host's other ids for an install (its id, `lower(publisher.name)`) resolve to
    // the extension id first, so the one cache entry per install (which writes drop) serves them all.
    const canonical = await this.store.extensionIdByAlias(tenantId, extensionId);
    return canonical === undefined || canonical === extensionId ? null : this.#runtime(tenantId, canonical);
  }

  async #runtime(tenantId: string, extensionId: string): Promise<InstallRuntime | null> {
    const key = runtimeKey(tenantId, extensionId);
    const cached = this.#runtimes.get(key);
    this.#onRuntimeLookup?.(cached !== undefined);
    if (cached) return cached.runtime;
    const install = await this.store.find(tenantId, extensionId);
    let runtime: InstallRuntime | null = null;
    if (install) {
      // Cached with the rest: a policy change reaches this install within the TTL (at once in this process).
      const capabilities = this.#policy
        ? await this.#policy.allowed(tenantId, install.grantedCapabilities)
        : install.grantedCapabilities;
      const [{ config, version }, envelope] = await Promise.all([
        this.store.config(install.id),
        this.#envelope(install, capabilities),
      ]);
      runtime = { install, config, configVersion: version, capabilities, envelope };
    }
    this.#runtimes.set(key, { runtime });
    return runtime;
  }

  clearRuntimes(): void {
    this.#runtimes.clear();
  }

  // ── Writes ─────────────────────────────────────────────────────────────────

  /**
   * Installs the version (latest by default) with the grant, or upgrades the
   * tenant's install in place. An upgrade keeps every stored secret, but a
   * runner gets only those the new version declares (`deliveredSecrets`):
   * `undeliveredSecrets` names the rest ("kept, not delivered"). When that
   * changes what a stored secret is delivered as (withheld, delivered again,
   * other egress hosts), the secrets version bumps, so runners drop values
   * they decrypted under the old terms, and the `install.upgrade` row names
   * those keys.
   */
  async install(
    actor: Actor,
    request: { extensionId: string; version?: string | undefined; grant?: string[] | undefined },
  ): Promise<{ created: boolean; install: InstallRow; undeliveredSecrets: string[] }> {
    const { extensionId } = request;
    const found = await findVersion(this.#db, extensionId, request.version);
    if (!found) throw notPublished({ extensionId });
    if ('available' in found) {
      throw noSuchVersion({ extensionId, version: request.version ?? '', available: found.available.join(', ') });
    }
    const granted = resolveGrant(found.manifest, request.grant);
    await this.#policy?.assertInstallable(actor.tenantId, granted);
    let undeliveredSecrets: string[] = [];
    const created = await this.store.write({ tenantId: actor.tenantId, extensionId }, async (tx) => {
      const existing = await tx.lock(actor.tenantId, extensionId);
      if (existing) {
        const was = await tx.find(actor.tenantId, extensionId);
        await tx.upgrade(existing, found.version, granted);
        const previous = await tx.config(existing);
        const next = carryConfig(found.manifest, previous.config);
        const configVersion =
          JSON.stringify(next) === JSON.stringify(previous.config)
            ? previous.version
            : await tx.writeConfig(existing, next, actor.actor);
        const [stored, setUnder] = await Promise.all([tx.storedSecretKeys(existing), tx.egressAtSet(existing)]);
        const upgraded = { id: existing, extensionId, manifest: found.manifest };
        const before = was ? await this.#deliveryTerms(tx, was, stored, setUnder) : undefined;
        const after = await this.#deliveryTerms(tx, upgraded, stored, setUnder);
        undeliveredSecrets = stored.filter((key) => !after.has(key));
        const changed = stored.filter((key) => before?.get(key) !== after.get(key));
        if (changed.length > 0) await tx.bumpSecretsVersion(existing);
        await tx.audit(
          auditEntry(actor, existing, 'install.upgrade', {
            version: configVersion,
            ...(changed.length > 0 ? { keyNames: changed } : {}),
          }),
        );
        return false;
      }
      // Only a concurrent first install of the same extension can make this fail.
      if (!(await this.#create(tx, actor, found, granted))) throw alreadyInstalled({ extensionId });
      return true;
    });
    const install = await this.get(actor.tenantId, extensionId);
    await this.#prepare?.(install);
    return { created, install, undeliveredSecrets };
  }

  /** A first install from the web UI: only when `consent` covers every capability the version gets. */
  async installWithConsent(
    actor: Actor,
    request: { extensionId: string; version: string; consent: string[] },
  ): Promise<InstallRow> {
    const { extensionId } = request;
    const found = await findVersion(this.#db, extensionId, request.version);
    if (!found || 'available' in found) throw noSuchExtensionVersion();
    const required = consentFor(found).capabilities.map((cap) => cap.id);
    const missing = required.filter((cap) => !request.consent.includes(cap));
    if (missing.length > 0) {
      throw consentMissing({ capabilities: missing.join(', ') }, { details: { consentRequired: required } });
    }
    await this.#policy?.assertInstallable(actor.tenantId, required);
    const created = await this.store.write({ tenantId: actor.tenantId, extensionId }, (tx) =>
      this.#create(tx, actor, found, required),
    );
    if (!created) throw alreadyInstalled({ extensionId });
    const install = await this.get(actor.tenantId, extensionId);
    await this.#prepare?.(install);
    return install;
  }

  /** Uninstalls; config, secrets and storage go with it. */
  async uninstall(actor: Actor, install: InstallRow): Promise<void> {
    await this.store.write(install, async (tx) => {
      if (!(await tx.remove(actor.tenantId, install.id))) throw notInstalled({ extensionId: install.extensionId });
      await tx.audit(auditEntry(actor, install.id, 'install.delete'));
    });
  }

  /** Enables or disables; repeating one changes nothing, so it leaves no audit row. */
  async setEnabled(actor: Actor, install: InstallRow, enabled: boolean): Promise<void> {
    await this.store.write(install, async (tx) => {
      const was = await tx.setEnabled(actor.tenantId, install.id, enabled);
      if (was === undefined) throw notInstalled({ extensionId: install.extensionId });
      if (was === enabled) return;
      await tx.audit(auditEntry(actor, install.id, enabled ? 'install.enable' : 'install.disable'));
    });
  }

  /** Replaces the whole config (validated against the manifest); the version bumps on every save. */
  async saveConfig(actor: Actor, install: InstallRow, config: Record<string, unknown>): Promise<StoredConfig> {
    const errors = validateConfig(install.manifest, config);
    if (errors.length > 0) {
      // Bounded: a config with 20,000 unknown keys once drew 4 MB of problems.
      const details = boundedDetails(errors, (error) => error);
      throw configInvalid({ problems: details.map((e) => e.message).join(' ') }, { details });
    }
    return this.store.write(install, async (tx) => {
      const previous = await tx.config(install.id);
      const version = await tx.writeConfig(install.id, config, actor.actor);
      const keyNames = changedKeys(previous.config, config);
      await tx.audit(auditEntry(actor, install.id, 'config.update', { keyNames, version }));
      return { config, version };
    });
  }

  /**
   * The settings form: config and secret changes validated together, then
   * written in one transaction, so either the whole form is saved or none of
   * it. The config version bumps only when the config changed (one
   * `config.update` row), the secrets version once when any secret changed
   * (one `secret.update` row).
   */
  async saveSettings(actor: Actor, install: InstallRow, change: SettingsChange): Promise<void> {
    const { config } = change;
    const toSet = Object.entries(change.secrets?.set ?? {});
    const toClear = [...new Set(change.secrets?.clear ?? [])];
    const expires = change.secrets?.expires ?? {};

    const errors: ConfigFieldError[] = validateConfig(install.manifest, config);
    const declared = secretKeys(install.manifest);
    const stored = (await this.store.secretMeta(install)).filter((s) => s.set).map((s) => s.key);
    const custom = customKeysAllowed(install.manifest);
    for (const [key, value] of toSet) {
      const field = `secrets.${key}`;
      const badKey = custom ? keyProblem(key) : undefined;
      if (badKey) errors.push({ field, message: badKey });
      else if (!custom && !declared.includes(key))
        errors.push({ field, message: `"${key}" is not a secret of this extension.` });
      else if (value.length === 0) errors.push({ field, message: 'Enter a value, or use Clear to remove the secret.' });
      else if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES)
        errors.push({ field, message: `The value is larger than ${MAX_SECRET_BYTES / 1024} KiB.` });
      if (toClear.includes(key)) errors.push({ field, message: 'A secret cannot be replaced and cleared at once.' });
    }
    for (const [key, at] of Object.entries(expires)) {
      const field = `secrets.${key}`;
      const problem = Object.hasOwn(change.secrets?.set ?? {}, key)
        ? expiryProblem(at)
        : 'An expiry is set together with a new value.';
      if (problem) errors.push({ field, message: problem });
    }
    for (const key of toClear) {
      if (!custom && !declared.includes(key) && !stored.includes(key))
        errors.push({ field: `secrets.${key}`, message: `"${key}" is not a secret of this extension.` });
    }
    if (errors.length > 0) throw settingsInvalid({ details: boundedDetails(errors, (error) => error) });

    const secrets = await this.#encrypt(install, toSet, (error) => settingsNotEncrypted({ cause: error }));
    const egressOf = secretEgressOf(install.manifest.settings);
    await this.store.write(install, async (tx) => {
      const previous = await tx.config(install.id);
      const changed = changedKeys(previous.config, config);
      if (changed.length > 0) {
        const version = await tx.writeConfig(install.id, config, actor.actor);
        await tx.audit(auditEntry(actor, install.id, 'config.update', { keyNames: changed, version }));
      }
      const secretsChanged = [];
      for (const secret of secrets) {
        const at = expires[secret.key];
        await tx.writeSecret(
          install.id,
          { ...secret, expiresAt: at ? new Date(at) : null, egressHosts: egressOf[secret.key] },
          actor.actor,
        );
        secretsChanged.push(secret.key);
      }
      if (toClear.length > 0) secretsChanged.push(...(await tx.deleteSecrets(install.id, toClear)));
      if (secretsChanged.length > 0) {
        const version = await tx.bumpSecretsVersion(install.id);
        const keyNames = [...new Set(secretsChanged)].sort();
        await tx.audit(auditEntry(actor, install.id, 'secret.update', { keyNames, version }));
      }
    });
  }

  /**
   * Config back to the manifest's defaults AND every secret cleared. Both
   * versions bump even when nothing differed, so runners drop whatever they
   * cached; one `install.reset` row names every key that changed.
   */
  async reset(actor: Actor, install: InstallRow): Promise<void> {
    const defaults = settingsDefaults(install.manifest);
    await this.store.write(install, async (tx) => {
      const previous = await tx.config(install.id);
      const version = await tx.writeConfig(install.id, defaults, actor.actor);
      const cleared = await tx.deleteSecrets(install.id);
      await tx.bumpSecretsVersion(install.id);
      const keyNames = [...new Set([...changedKeys(previous.config, defaults), ...cleared])].sort();
      await tx.audit(auditEntry(actor, install.id, 'install.reset', { keyNames, version }));
    });
  }

  /**
   * Replaces the hosts an admin granted this install beyond its manifest's
   * `allowedHosts` (a reference manifest has none: no egress until granted).
   * Each host is checked like an `allowedHosts` entry; deny by default stays,
   * an empty list grants nothing. One `install.egress` audit row per change.
   */
  async setEgressGrants(actor: Actor, install: InstallRow, hosts: string[]): Promise<string[]> {
    const problems = hosts.flatMap((host, index) => {
      const problem = hostProblem(host);
      return problem ? [{ field: `hosts[${index}]`, message: problem }] : [];
    });
    if (problems.length > 0) {
      const details = boundedDetails(problems, (problem) => problem);
      throw egressInvalid({ problems: details.map((p) => p.message).join(' ') }, { details });
    }
    const next = [...new Set(hosts.map((host) => host.trim()))].sort();
    await this.store.write(install, async (tx) => {
      const was = await tx.setEgressGrants(actor.tenantId, install.id, next);
      if (was === undefined) throw notInstalled({ extensionId: install.extensionId });
      if (JSON.stringify(was) === JSON.stringify(next)) return;
      await tx.audit(auditEntry(actor, install.id, 'install.egress', { keyNames: next }));
    });
    return next;
  }

  /** Encrypts (AAD bound to tenant, install and key) and stores one secret; returns its and the install's version. */
  async setSecret(
    actor: Actor,
    install: InstallRow,
    key: string,
    value: string,
    expiresAt: string | null = null,
  ): Promise<{ version: number; secretsVersion: number }> {
    declaredSecret(install, key);
    const problem = expiresAt === null ? null : expiryProblem(expiresAt);
    if (problem) throw secretExpiryInvalid({ key, problem });
    const size = Buffer.byteLength(value, 'utf8');
    if (size === 0) throw secretEmpty({ key });
    if (size > MAX_SECRET_BYTES) throw secretTooLarge({ key, kib: MAX_SECRET_BYTES / 1024 });
    const [secret] = await this.#encrypt(install, [[key, value]], transitFailure);
    return this.store.write(install, async (tx) => {
      const version = await tx.writeSecret(
        install.id,
        {
          ...secret!,
          expiresAt: expiresAt === null ? null : new Date(expiresAt),
          egressHosts: secretEgressOf(install.manifest.settings)[key],
        },
        actor.actor,
      );
      const secretsVersion = await tx.bumpSecretsVersion(install.id);
      await tx.audit(auditEntry(actor, install.id, 'secret.set', { keyNames: [key], version: secretsVersion }));
      return { version, secretsVersion };
    });
  }

  /** Clears one secret; clearing an unset one is a no-op (no audit row), so "reset" can be repeated safely. */
  async deleteSecret(actor: Actor, install: InstallRow, key: string): Promise<number> {
    declaredSecret(install, key);
    return this.store.write(install, async (tx) => {
      const deleted = await tx.deleteSecrets(install.id, [key]);
      if (deleted.length === 0) return install.secretsVersion;
      const secretsVersion = await tx.bumpSecretsVersion(install.id);
      await tx.audit(auditEntry(actor, install.id, 'secret.delete', { keyNames: [key], version: secretsVersion }));
      return secretsVersion;
    });
  }

  // ── Internals ──────────────────────────────────────────────────────────────

  /** The install row, its config (the manifest's defaults) and the `install.create` row; false if it exists. */
  async #create(tx: InstallWriter, actor: Actor, found: FoundVersion, granted: string[]): Promise<boolean> {
    const installId = await tx.create(actor.tenantId, found.manifest.name, found.version, granted);
    if (!installId) return false;
    const version = await tx.writeConfig(installId, settingsDefaults(found.manifest), actor.actor);
    await tx.audit(auditEntry(actor, installId, 'install.create', { version }));
    return true;
  }

  /**
   * Encrypts before any transaction opens: if transit fails, nothing at all
   * is written, and never a plaintext fallback. The AAD binds each
   * ciphertext to this tenant, install and key: copied anywhere else it
   * fails to decrypt.
   */
  async #encrypt(
    install: InstallRow,
    values: [key: string, value: string][],
    failure: (error: unknown) => Error,
  ): Promise<{ key: string; ciphertext: string; keyRef: string }[]> {
    const encrypted = [];
    for (const [key, value] of values) {
      const bytes = Buffer.from(value, 'utf8');
      try {
        const ciphertext = await this.#encrypter.encrypt(bytes, secretAad(install.tenantId, install.id, key));
        encrypted.push({ key, ciphertext, keyRef: this.#encrypter.keyRef });
      } catch (error) {
        throw failure(error);
      } finally {
        bytes.fill(0);
      }
    }
    return encrypted;
  }

  /** `deliveredSecrets` for an install's manifest, asking the store for egress-bound keys only when it matters. */
  async #delivered(
    reads: Pick<InstallStore, 'egressBoundSecretKeys' | 'egressAtSet'>,
    install: Pick<InstallRow, 'id' | 'extensionId' | 'manifest'>,
    stored: readonly string[],
    /** The hosts each stored secret was set under, when the caller has read them already. */
    setUnder?: Readonly<Record<string, readonly string[]>>,
  ): Promise<string[]> {
    if (stored.length === 0) return [];
    const [egressBound, egressAtSet] = await Promise.all([
      customKeysAllowed(install.manifest) ? reads.egressBoundSecretKeys(install.extensionId) : [],
      setUnder ?? reads.egressAtSet(install.id),
    ]);
    return deliveredSecrets(install.manifest, stored, egressBound, egressAtSet);
  }

  /** Stored key → how a runner gets it under this manifest: its egress hosts as JSON (`[]`: plain); absent when withheld. */
  async #deliveryTerms(
    reads: Pick<InstallStore, 'egressBoundSecretKeys' | 'egressAtSet'>,
    install: Pick<InstallRow, 'id' | 'extensionId' | 'manifest'>,
    stored: readonly string[],
    setUnder: Readonly<Record<string, readonly string[]>>,
  ): Promise<Map<string, string>> {
    const egress = secretEgressOf(install.manifest.settings);
    const delivered = await this.#delivered(reads, install, stored, setUnder);
    return new Map(delivered.map((key) => [key, JSON.stringify([...(egress[key] ?? [])].sort())]));
  }

  /**
   * Ciphertexts only: the server cannot decrypt. An install without the
   * secrets capability (granted and allowed by policy) gets no envelope at
   * all (deny by default, nothing to leak). Only the secrets the current
   * manifest declares go in (`deliveredSecrets`): a stored value an upgrade
   * left undeclared stays in the database and never reaches a runner, so an
   * egress-bound secret cannot come back as a plain one.
   */
  async #envelope(install: InstallRow, capabilities: readonly string[]): Promise<SecretEnvelope | null> {
    if (!capabilities.includes('cap:secrets.get')) return null;
    const stored = await this.store.ciphertexts(install.id);
    const delivered = new Set(
      await this.#delivered(this.store, install, Object.keys(stored.ciphertexts), stored.egressAtSet),
    );
    const only = (values: Record<string, string>) =>
      Object.fromEntries(Object.entries(values).filter(([key]) => delivered.has(key)));
    const ciphertexts = only(stored.ciphertexts);
    const expiresAt = only(stored.expiresAt);
    const keyRef = stored.keyRef;
    return {
      version: String(install.secretsVersion),
      algorithm: 'aes-256-gcm',
      key_ref: keyRef ?? this.#encrypter.keyRef,
      expires_at: install.secretsExpiresAt ? install.secretsExpiresAt.toISOString() : null,
      ciphertexts,
      // The runner answers `expired` for a key past its time; the gateway's cache TTL does not delay it.
      ...(Object.keys(expiresAt).length > 0 ? { key_expires_at: expiresAt } : {}),
    };
  }
}

/** An audit row of `actor`'s change to an install: names and versions only, never a value. */
function auditEntry(
  actor: Actor,
  installId: string,
  action: string,
  more: { keyNames?: string[]; version?: number } = {},
): AuditEntry {
  return { actor: actor.actor, tenantId: actor.tenantId, requestId: actor.requestId, installId, action, ...more };
}

/** A secret key the install takes: a declared one, or any valid key when the manifest declares no settings. */
function declaredSecret(install: InstallRow, key: string): void {
  if (customKeysAllowed(install.manifest)) {
    const problem = keyProblem(key);
    if (problem) throw secretKeyInvalid({ problem }, { details: [{ field: 'key', message: problem }] });
    return;
  }
  const declared = secretKeys(install.manifest);
  if (!declared.includes(key)) {
    throw secretUndeclared(
      { key, extensionId: install.extensionId, declared: declared.length > 0 ? declared.join(', ') : '(none)' },
      { details: [{ field: 'key', message: `not a declared secret; use one of: ${declared.join(', ')}` }] },
    );
  }
}
