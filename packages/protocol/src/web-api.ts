/**
 * What the browser and the server agree on for the web UI (`/ui/api/*`) and
 * for extension iframes calling the UI proxy with a session. Request bodies
 * are schemas (the server validates with them, the browser takes their
 * types); answers are the shapes the server's web routes return and the
 * React app reads. Neither side keeps a copy of its own.
 */
import { Type, type Static } from 'typebox';
import type { SettingDefinition, SettingType } from './settings.ts';

/** A person's (or an API key's) role in a tenant: admins change things, viewers read. */
export type Role = 'admin' | 'viewer';

/**
 * A signed-in person's role: a staff role, or `client` — a person of the
 * tenant's client (customer) who sees only the client portal: extension pages
 * with `ui.hooks.clientPortalMenu`, nothing of installs or settings.
 */
export type UserRole = Role | 'client';

/** The signed-in person, as the web UI shows them. */
export interface UiUser {
  email: string;
  name: string;
  role: UserRole;
  /** The tenant's name. */
  tenant: string;
  /** The tenant's id: extension pages get it as `?tenant=`, as on the reference host. */
  tenantId: string;
}

/** `GET/POST/DELETE /ui/api/session`: who is signed in (null when nobody), and the CSRF token for writes. */
export interface SessionInfo {
  user: UiUser | null;
  csrfToken: string;
}

/** `POST /ui/api/session`. */
export const SignInRequestSchema = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type SignInRequest = Static<typeof SignInRequestSchema>;

export type InstallStatus = 'active' | 'needs-setup' | 'disabled';

/** An install's iframe UI: where it is served and which menus link to it (`ui.hooks`). */
export interface ExtensionUiInfo {
  /** The entry page on this server, `/ext-ui/<extensionId>/<digest>/<entry>`. */
  url: string;
  /** The admin navigation's label (`ui.hooks.appMenu.label`), or null when the extension has none. */
  appMenu: string | null;
  /** The client portal's label (`ui.hooks.clientPortalMenu.label`), or null. */
  clientPortalMenu: string | null;
}

export interface InstalledExtension {
  /** The install id (the settings page's URL carries it). */
  id: string;
  extensionId: string;
  publisher: string;
  description: string | null;
  version: string;
  enabled: boolean;
  status: InstallStatus;
  /** Required secrets the installed version does not get: never set, or withheld (`SettingsSecret.withheld`). */
  missingSecrets: string[];
  /** Null when the installed version has no UI. */
  ui: ExtensionUiInfo | null;
}

export interface AvailableExtension {
  extensionId: string;
  publisher: string;
  /** The latest version. */
  version: string;
  description: string | null;
}

/** One entry of the client portal's menu: an enabled install whose UI declares `ui.hooks.clientPortalMenu`. */
export interface PortalExtension {
  /** The install id (the portal page's URL carries it). */
  id: string;
  extensionId: string;
  /** `ui.hooks.clientPortalMenu.label`. */
  label: string;
  /** The entry page on this server, `/ext-ui/<extensionId>/<digest>/<entry>`. */
  url: string;
}

/** `GET /ui/api/portal/extensions`: what the client portal shows, for any signed-in role. */
export interface PortalExtensionList {
  extensions: PortalExtension[];
}

/** `GET /ui/api/extensions`. */
export interface ExtensionList {
  role: Role;
  installed: InstalledExtension[];
  available: AvailableExtension[];
}

/** One capability to consent to, in the words the consent prompt shows (`consentText`). */
export interface ConsentCapability {
  id: string;
  description: string;
}

/** `GET /ui/api/extensions/:extensionId/consent`: what installing the latest version asks for. */
export interface Consent {
  extensionId: string;
  version: string;
  publisher: string;
  description: string | null;
  allowedHosts: string[];
  capabilities: ConsentCapability[];
  /**
   * Interfaces the component imports without requesting them (componentize-js
   * imports a whole world): never granted, every call answers "not allowed".
   */
  notRequested: ConsentNotRequested[];
  /** The manifest declares no endpoints (reference format without `api`): the extension accepts any method and path. */
  acceptsAnyPath: boolean;
  /** Secret key → the only hosts its handle is ever sent to (the secret's `egress`); secrets without one are absent. */
  secretEgress: Record<string, string[]>;
}

/** One "imported, not requested" interface, in the words the consent screen shows (`describeNotRequested`). */
export interface ConsentNotRequested {
  iface: string;
  /** The capability that would unlock it; absent for an interface this platform does not provide. */
  capability?: string;
  description: string;
}

/** `POST /ui/api/installs`: `consent` must list every capability the consent view named. */
export const InstallRequestSchema = Type.Object(
  {
    extensionId: Type.String({ minLength: 1, maxLength: 128 }),
    version: Type.String({ minLength: 1, maxLength: 256 }),
    consent: Type.Array(Type.String(), { maxItems: 64 }),
  },
  { additionalProperties: false },
);
export type InstallRequest = Static<typeof InstallRequestSchema>;

/** `POST /ui/api/installs` → 201. */
export interface InstallCreated {
  id: string;
}

/** `PUT /ui/api/installs/:installId/egress` and `PUT /api/v1/installs/:extensionId/egress`: the whole list of granted hosts. */
export const EgressGrantsSchema = Type.Object(
  { hosts: Type.Array(Type.String({ maxLength: 512 }), { maxItems: 64 }) },
  { additionalProperties: false },
);
export type EgressGrants = Static<typeof EgressGrantsSchema>;

/** `PUT /ui/api/installs/:installId/enabled`, request and answer. */
export const EnabledChangeSchema = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });
export type EnabledChange = Static<typeof EnabledChangeSchema>;
export interface EnabledState {
  id: string;
  enabled: boolean;
}

/** A secret's metadata: never its value or ciphertext. */
export interface SecretMeta {
  key: string;
  set: boolean;
  version: number | null;
  updatedAt: string | null;
  /** Who set it (`user:<email>` or `api_key:<id>`). */
  updatedBy: string | null;
  /** When it stops being readable (the guest gets `expired`); null when it never expires. */
  expiresAt: string | null;
}

/** An install as both APIs show it. */
export interface InstallInfo {
  id: string;
  extensionId: string;
  version: string;
  contentHash: string;
  grantedCapabilities: string[];
  /** Outbound hosts a tenant admin granted beyond the manifest's `allowedHosts`. */
  egressGrants: string[];
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A manifest setting as the settings page gets it (secrets are listed separately). */
export type UiSetting = Omit<SettingDefinition, 'secret'>;

export interface SettingsGroup {
  category: string;
  settings: UiSetting[];
}

/** A secret setting on the settings page: its metadata and how to present it. */
export interface SettingsSecret extends SecretMeta {
  label: string;
  description: string | null;
  required: boolean;
  /** False for a stored key the current manifest no longer declares. */
  declared: boolean;
  /**
   * Stored but not given to the installed version: it does not declare the
   * key, or declares looser egress terms than the value was set under.
   */
  withheld: boolean;
  type: SettingType;
}

/** `GET /ui/api/installs/:installId/settings` (also the answer to a save and a reset). */
export interface SettingsView {
  install: InstallInfo & { publisher: string; description: string | null; status: InstallStatus };
  canEdit: boolean;
  groups: SettingsGroup[];
  config: Record<string, unknown>;
  configVersion: number;
  secrets: SettingsSecret[];
  secretsVersion: number;
  /** Required secrets the installed version does not get: never set, or `withheld`. */
  missingSecrets: string[];
  /**
   * The manifest declares no settings (`customKeysAllowed`): an admin adds
   * config and secret keys of their own, a "sensitive" switch choosing which.
   */
  customKeys: boolean;
  /** The manifest's own `allowedHosts` (the install's `egressGrants` add to them). */
  allowedHosts: string[];
}

/** `PUT /ui/api/installs/:installId/settings`: the whole config, and the secrets to set or clear. */
export const SaveSettingsRequestSchema = Type.Object(
  {
    config: Type.Record(Type.String(), Type.Unknown()),
    secrets: Type.Optional(
      Type.Object(
        {
          /** Secret key → new value (browser → server only; never sent back). */
          set: Type.Optional(Type.Record(Type.String(), Type.String(), { maxProperties: 64 })),
          /** Secret key (among `set`) → ISO time it expires; a key set without one never expires. */
          expires: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 64 }), { maxProperties: 64 })),
          clear: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SaveSettingsRequest = Static<typeof SaveSettingsRequestSchema>;

export interface UiLogEntry {
  at: string | null;
  level: string | null;
  message: string;
}

/** `GET /ui/api/installs/:installId/logs`: the newest lines first. */
export interface LogsView {
  available: boolean;
  entries: UiLogEntry[];
}

/** One row of an install's audit trail: who changed what (key names, never values), when. */
export interface AuditRecord {
  /** Opaque, increasing; page with `?before=<id>`. */
  id: string;
  at: string;
  /** `user:<email>`, `api_key:<id>` or `operator:<…>`. */
  actor: string;
  /** `install.create`, `config.update`, `secret.set`, … */
  action: string;
  keyNames: string[];
  /** The config or secrets version the change produced, when it produced one. */
  version: number | null;
  requestId: string | null;
}

/**
 * `GET /api/v1/installs/:extensionId/audit` and `GET /ui/api/installs/:installId/audit`:
 * newest first; `nextBefore` fetches the next (older) page, null at the end.
 */
export interface AuditPage {
  entries: AuditRecord[];
  nextBefore: string | null;
}
