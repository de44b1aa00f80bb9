/** Shapes of the server's /ui/api responses (packages/server/src/web/api-routes.ts). */
import type { SettingDefinition, SettingType, SettingValue } from '@alga-psa/protocol';

export type { SettingType, SettingValue };
export type Role = 'admin' | 'viewer';

export interface User {
  email: string;
  name: string;
  role: Role;
  tenant: string;
}

/** A manifest setting as the settings API sends it (secrets are listed separately). */
export type Setting = Omit<SettingDefinition, 'secret'>;

export type InstallStatus = 'active' | 'needs-setup' | 'disabled';

export interface InstalledExtension {
  id: string;
  extensionId: string;
  publisher: string;
  description: string | null;
  version: string;
  enabled: boolean;
  status: InstallStatus;
  missingSecrets: string[];
}

export interface AvailableExtension {
  extensionId: string;
  publisher: string;
  version: string;
  description: string | null;
}

export interface ExtensionList {
  role: Role;
  installed: InstalledExtension[];
  available: AvailableExtension[];
}

export interface Consent {
  extensionId: string;
  version: string;
  publisher: string;
  description: string | null;
  allowedHosts: string[];
  capabilities: { id: string; description: string }[];
}

/** Metadata only: the server never sends a secret's value. */
export interface SecretMeta {
  key: string;
  label: string;
  description: string | null;
  required: boolean;
  declared: boolean;
  type: SettingType;
  set: boolean;
  version: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

export interface SettingsView {
  install: {
    id: string;
    extensionId: string;
    version: string;
    enabled: boolean;
    publisher: string;
    description: string | null;
    status: InstallStatus;
    grantedCapabilities: string[];
  };
  canEdit: boolean;
  groups: { category: string; settings: Setting[] }[];
  config: Record<string, SettingValue>;
  configVersion: number;
  secrets: SecretMeta[];
  secretsVersion: number;
  missingSecrets: string[];
}

export interface LogsView {
  available: boolean;
  entries: { at: string | null; level: string | null; message: string }[];
}

export interface FieldError {
  field: string;
  message: string;
}
