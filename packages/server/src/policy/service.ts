/**
 * Provider policy: which capabilities the platform operator allows, globally
 * and per tenant (the resolution rule is protocol's `capabilityEnabled`).
 * Two places obey it: installing or upgrading refuses an extension that
 * needs a disabled capability (`assertInstallable`), and the gateway sends
 * a runner only the granted capabilities policy still allows (the install
 * cache's `runtime()` filters them, so a change reaches running installs
 * within that cache's TTL, and at once in this process).
 *
 * Every change is one transaction with its `policy.*` audit row in it.
 */
import {
  CAPABILITIES,
  allowedByPolicy,
  consentText,
  isCapability,
  isPolicyCapability,
  type PolicyAuditPage,
  type PolicyCatalog,
  type PolicySetting,
} from '@alga-psa/protocol';
import type { Db, Queryable } from '../db/index.ts';
import { capabilityDisabled, pageLimitTooHigh, policyNotConfigurable, unknownCapabilities } from '../errors.ts';
import { insertAudit, MAX_AUDIT_PAGE, readPolicyAudit, type AuditActor } from '../installs/store.ts';
import { findTenant } from '../tenants/service.ts';

interface SettingRow {
  capability: string;
  tenant_id: string | null;
  enabled: boolean;
  updated_at: Date | string;
  updated_by: string;
}

function toSetting(row: SettingRow): PolicySetting {
  return {
    capability: row.capability,
    tenantId: row.tenant_id,
    enabled: row.enabled,
    updatedAt: new Date(row.updated_at).toISOString(),
    updatedBy: row.updated_by,
  };
}

export class PolicyService {
  readonly #db: Db;
  readonly #onChange: () => void;

  /** `onChange` runs after every committed change (the gateway's install cache empties). */
  constructor(db: Db, options: { onChange?: () => void } = {}) {
    this.#db = db;
    this.#onChange = options.onChange ?? (() => {});
  }

  /** The global settings and this tenant's: all that decides what the tenant gets. */
  async settingsFor(tenantId: string, q: Queryable = this.#db): Promise<PolicySetting[]> {
    const { rows } = await q.query<SettingRow>(
      `SELECT capability, tenant_id, enabled, updated_at, updated_by FROM capability_policy
        WHERE tenant_id IS NULL OR tenant_id = $1`,
      [tenantId],
    );
    return rows.map(toSetting);
  }

  /** The capabilities of `granted` that policy leaves this tenant. */
  async allowed(tenantId: string, granted: readonly string[]): Promise<string[]> {
    // Most installs of most tenants meet no stored setting; one small indexed query either way.
    return allowedByPolicy(granted, await this.settingsFor(tenantId), tenantId);
  }

  /** Refuses an install or upgrade that would get a capability policy disables for the tenant. */
  async assertInstallable(tenantId: string, granted: readonly string[]): Promise<void> {
    const allowed = new Set(await this.allowed(tenantId, granted));
    const disabled = granted.filter((cap) => !allowed.has(cap));
    if (disabled.length > 0) {
      throw capabilityDisabled({ capabilities: disabled.join(', ') }, { details: { capabilities: disabled } });
    }
  }

  /** Every capability with its global setting and per-tenant ones; with `tenant`, what that tenant gets. */
  async catalog(tenant?: string): Promise<PolicyCatalog> {
    const target = tenant === undefined ? null : await this.tenant(tenant);
    const { rows } = await this.#db.query<SettingRow & { tenant_name: string | null }>(
      `SELECT p.capability, p.tenant_id, p.enabled, p.updated_at, p.updated_by, t.name AS tenant_name
         FROM capability_policy p LEFT JOIN tenants t ON t.id = p.tenant_id
        ORDER BY t.name NULLS FIRST, p.capability`,
    );
    const settings = rows.map(toSetting);
    return {
      tenant: target,
      capabilities: Object.keys(CAPABILITIES).map((capability) => ({
        capability,
        consent: consentText(capability),
        configurable: isPolicyCapability(capability),
        enabled: settings.find((s) => s.capability === capability && s.tenantId === null)?.enabled ?? true,
        tenants: rows
          .filter((row) => row.capability === capability && row.tenant_id !== null)
          .map((row) => ({ tenantId: row.tenant_id!, tenantName: row.tenant_name ?? '', enabled: row.enabled })),
        ...(target ? { effective: allowedByPolicy([capability], settings, target.id).length === 1 } : {}),
      })),
    };
  }

  /**
   * Enables or disables `capability` globally (no tenant) or for one tenant
   * (its id or name). Setting what is already stored changes nothing and
   * leaves no audit row.
   */
  async set(actor: AuditActor, capability: string, enabled: boolean, tenant?: string): Promise<void> {
    configurable(capability);
    const target = tenant === undefined ? null : await this.tenant(tenant);
    const changed = await this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<{ enabled: boolean }>(
        target
          ? 'SELECT enabled FROM capability_policy WHERE capability = $1 AND tenant_id = $2 FOR UPDATE'
          : 'SELECT enabled FROM capability_policy WHERE capability = $1 AND tenant_id IS NULL FOR UPDATE',
        target ? [capability, target.id] : [capability],
      );
      if (rows[0]?.enabled === enabled) return false;
      await tx.query(
        target
          ? `INSERT INTO capability_policy (capability, tenant_id, enabled, updated_by) VALUES ($1, $4, $2, $3)
             ON CONFLICT (tenant_id, capability) WHERE tenant_id IS NOT NULL
             DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now(), updated_by = EXCLUDED.updated_by`
          : `INSERT INTO capability_policy (capability, tenant_id, enabled, updated_by) VALUES ($1, NULL, $2, $3)
             ON CONFLICT (capability) WHERE tenant_id IS NULL
             DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now(), updated_by = EXCLUDED.updated_by`,
        target ? [capability, enabled, actor.actor, target.id] : [capability, enabled, actor.actor],
      );
      await insertAudit(tx, {
        actor: actor.actor,
        tenantId: target?.id ?? null,
        action: enabled ? 'policy.enable' : 'policy.disable',
        keyNames: [capability],
        requestId: actor.requestId,
      });
      return true;
    });
    if (changed) this.#onChange();
  }

  /** Removes a stored setting, so the tenant follows the global one again (or the global one the default: enabled). */
  async reset(actor: AuditActor, capability: string, tenant?: string): Promise<void> {
    configurable(capability);
    const target = tenant === undefined ? null : await this.tenant(tenant);
    const changed = await this.#db.transaction(async (tx) => {
      const { rows } = await tx.query(
        target
          ? 'DELETE FROM capability_policy WHERE capability = $1 AND tenant_id = $2 RETURNING enabled'
          : 'DELETE FROM capability_policy WHERE capability = $1 AND tenant_id IS NULL RETURNING enabled',
        target ? [capability, target.id] : [capability],
      );
      if (rows.length === 0) return false;
      await insertAudit(tx, {
        actor: actor.actor,
        tenantId: target?.id ?? null,
        action: 'policy.reset',
        keyNames: [capability],
        requestId: actor.requestId,
      });
      return true;
    });
    if (changed) this.#onChange();
  }

  /** The policy trail, newest first. */
  history(query: { limit?: string; before?: string }): Promise<PolicyAuditPage> {
    const limit = Number(query.limit ?? 50);
    if (limit > MAX_AUDIT_PAGE) throw pageLimitTooHigh({ max: MAX_AUDIT_PAGE });
    return readPolicyAudit(this.#db, { limit, before: query.before });
  }

  /** A tenant by id or by name; 404 when neither matches. */
  tenant(idOrName: string): Promise<{ id: string; name: string }> {
    return findTenant(this.#db, idOrName);
  }
}

function configurable(capability: string): void {
  if (!isCapability(capability)) throw unknownCapabilities({ ids: capability }, { details: { unknown: [capability] } });
  if (!isPolicyCapability(capability)) throw policyNotConfigurable({ capability });
}
