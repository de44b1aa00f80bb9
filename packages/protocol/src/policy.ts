/**
 * Provider policy: the platform operator switches a capability off (or back
 * on) for every tenant or for one. A tenant's own setting wins over the
 * global one; with neither, a capability is enabled. The capabilities every
 * install gets (`DEFAULT_CAPABILITIES`) are not subject to policy.
 */
import { CAPABILITIES, DEFAULT_CAPABILITIES, type Capability } from './capabilities.ts';
import type { AuditRecord } from './web-api.ts';

/** One stored setting: global (`tenantId` null) or for one tenant. */
export interface PolicySetting {
  capability: string;
  tenantId: string | null;
  enabled: boolean;
  updatedAt: string;
  updatedBy: string;
}

/** One row of the catalog as `GET /api/v1/operator/policy` answers it. */
export interface PolicyCatalogEntry {
  capability: string;
  /** What the capability allows, as the consent prompt says it. */
  consent: string;
  /** False for the capabilities every install gets: policy cannot switch them off. */
  configurable: boolean;
  /** The global setting (true when none is stored). */
  enabled: boolean;
  /** Per-tenant settings that differ from, or pin, the global one. */
  tenants: { tenantId: string; tenantName: string; enabled: boolean }[];
  /** For `?tenant=`: what that tenant gets, all settings applied. */
  effective?: boolean;
}

export interface PolicyCatalog {
  /** The tenant asked about with `?tenant=`, when one was. */
  tenant: { id: string; name: string } | null;
  capabilities: PolicyCatalogEntry[];
}

/** `PUT /api/v1/operator/policy/:capability`. `tenant` is a tenant id or name; omitted: the global setting. */
export interface PolicyChange {
  enabled: boolean;
  tenant?: string;
}

/**
 * `GET /api/v1/operator/policy/audit`: every policy change, newest first.
 * `action` is `policy.enable`, `policy.disable` or `policy.reset`, `keyNames`
 * holds the capability and `tenantId` the tenant (null for the global setting).
 */
export interface PolicyAuditPage {
  entries: (AuditRecord & { tenantId: string | null })[];
  nextBefore: string | null;
}

/** The capabilities that policy can switch off: every one but the defaults. */
export function isPolicyCapability(value: string): value is Capability {
  return Object.hasOwn(CAPABILITIES, value) && !DEFAULT_CAPABILITIES.includes(value as Capability);
}

/**
 * The capabilities of `granted` that policy leaves a tenant, in order: a
 * tenant setting wins over the global one, neither means enabled.
 */
export function allowedByPolicy(
  granted: readonly string[],
  settings: readonly Pick<PolicySetting, 'capability' | 'tenantId' | 'enabled'>[],
  tenantId: string,
): string[] {
  return granted.filter((capability) => capabilityEnabled(capability, settings, tenantId));
}

export function capabilityEnabled(
  capability: string,
  settings: readonly Pick<PolicySetting, 'capability' | 'tenantId' | 'enabled'>[],
  tenantId: string,
): boolean {
  if (!isPolicyCapability(capability)) return true;
  const own = settings.find((s) => s.capability === capability && s.tenantId === tenantId);
  if (own) return own.enabled;
  return settings.find((s) => s.capability === capability && s.tenantId === null)?.enabled ?? true;
}
