/**
 * Every error the server raises, defined once: a registry code (which fixes
 * the HTTP status) and the message template. A throw site passes arguments,
 * never prose: `throw notInstalled({ extensionId })`. Turning errors into
 * responses is `algaErrors` from `@alga-psa/protocol/fastify`.
 */
import { defineError } from '@alga-psa/protocol';

// ── Credentials: API keys, sessions, service tokens ──────────────────────────
export const credentialsMissing = defineError('ALGA_UNAUTHENTICATED', 'Missing or invalid credentials.');
export const apiKeyMalformed = defineError(
  'ALGA_UNAUTHENTICATED',
  'Send an API key as "Authorization: Bearer alga_sk_…".',
);
export const apiKeyInvalid = defineError('ALGA_UNAUTHENTICATED', 'The API key is not valid.');
export const viewerKeyWrite = defineError(
  'ALGA_FORBIDDEN',
  'This API key has the viewer role; use an admin key for changes.',
);
/** The reference CLI's `x-tenant-id` (its --tenant / ALGA_TENANT_ID) naming another tenant than the key's. */
export const tenantHeaderMismatch = defineError(
  'ALGA_FORBIDDEN',
  'x-tenant-id names tenant "{given}", but this API key belongs to another tenant; use that tenant\'s API key, or drop --tenant / ALGA_TENANT_ID.',
);
export const signInFailed = defineError('ALGA_UNAUTHENTICATED', 'The email or password is not correct.');
/** `details.retryAfterSeconds`, also sent as `retry-after`. */
export const signInThrottled = defineError(
  'ALGA_RATE_LIMITED',
  'Too many failed sign-ins for this account or from this address; try again in {seconds} s.',
);
export const signInRequired = defineError('ALGA_UNAUTHENTICATED', 'Sign in to continue.');
export const sessionEnded = defineError('ALGA_UNAUTHENTICATED', 'The session has ended; sign in again.');
/** `details.reason`: `role`. */
export const roleWithoutAccess = defineError('ALGA_FORBIDDEN', 'Your role has no access to extension settings.');
/** `details.reason`: `role`. A client-portal user on a staff route of the web UI. */
export const clientPortalOnly = defineError(
  'ALGA_FORBIDDEN',
  'Client-portal users see only the extension pages of the client portal.',
);
/** `details.reason`: `role`. */
export const adminOnly = defineError('ALGA_FORBIDDEN', 'Only tenant admins can change extensions and their settings.');
/** `details.reason`: `csrf`. */
export const csrfTokenInvalid = defineError(
  'ALGA_FORBIDDEN',
  'The request carried no valid CSRF token; reload the page and try again.',
);
/** `details.reason`: `origin`. */
export const crossSiteWrite = defineError(
  'ALGA_FORBIDDEN',
  'Cross-site requests are refused: send writes from the Alga web UI itself.',
);
/** `details.reason`: `csrf` (the gateway's door for signed-in browsers). */
export const crossSiteGatewayWrite = defineError(
  'ALGA_FORBIDDEN',
  'Cross-site requests are refused: send writes from the Alga UI with the {header} header.',
);
export const noServiceVerifier = defineError(
  'ALGA_UNAUTHENTICATED',
  'This server has no service verification key configured, so it accepts no runner calls.',
);
/** A service token that does not verify; the message is the verifier's. */
export const serviceTokenInvalid = defineError('ALGA_UNAUTHENTICATED', '{reason}');
/** A valid service token without the scope; the message is the verifier's. */
export const serviceTokenScope = defineError('ALGA_FORBIDDEN', '{reason}');
export const tokenInstallInactive = defineError(
  'ALGA_FORBIDDEN',
  'The install named by the service token is not active.',
);
export const tokenInstallNotGranted = defineError('ALGA_FORBIDDEN', 'The install was not granted {capability}.');

// ── Registry: bundles, publishing, versions ──────────────────────────────────
export const contentHashMalformed = defineError(
  'ALGA_BAD_REQUEST',
  'The content hash must be sha256:<64 lowercase hex characters>.',
);
export const bundleBodyMissing = defineError(
  'ALGA_BAD_REQUEST',
  'Send the component bytes with Content-Type: application/wasm (or application/octet-stream).',
);
export const bundleHashMismatch = defineError(
  'ALGA_BUNDLE_HASH_MISMATCH',
  'The body hashes to {actual}, not {claimed}; upload it under its own hash.',
);
export const bundleNotUploaded = defineError(
  'ALGA_BUNDLE_NOT_FOUND',
  'No bundle {contentHash}; upload it first with PUT /api/v1/bundles/{contentHash}.',
);
/** What is wrong with the bytes, from `componentProblem`. */
export const notAComponent = defineError('ALGA_INVALID_COMPONENT', '{problem}');
export const componentUndecodable = defineError(
  'ALGA_INVALID_COMPONENT',
  'The component could not be decoded (truncated or corrupt); rebuild it with `alga build`.',
);
export const importsNotAllowed = defineError('ALGA_IMPORT_NOT_ALLOWED', 'The component {problems}');
export const manifestInvalid = defineError('ALGA_INVALID_MANIFEST', 'The manifest is invalid: {problems}');
export const manifestNotJson = defineError('ALGA_INVALID_MANIFEST', '{file} is not valid JSON.');
export const stagingKeyInvalid = defineError('ALGA_BAD_REQUEST', 'Staged upload refused: {problem}.');
export const stagedBundleMissing = defineError(
  'ALGA_BUNDLE_NOT_FOUND',
  'No staged bundle {contentHash}; upload it first with POST /api/ext-bundles/upload-proxy.',
);
/** `details.retryAfterSeconds`: also sent as `retry-after`. The reference host limits this route per address too. */
export const uploadRateLimited = defineError(
  'ALGA_RATE_LIMITED',
  'Too many bundle uploads from this address; retry after {seconds} s.',
);
export const jsonBodyRequired = defineError(
  'ALGA_UNSUPPORTED_MEDIA_TYPE',
  'This route takes a JSON body: send it as Content-Type: application/json.',
);
export const hostHeaderInvalid = defineError(
  'ALGA_BAD_REQUEST',
  'The Host header is not a host name (with an optional port).',
);
export const archiveBodyMissing = defineError(
  'ALGA_BAD_REQUEST',
  'Send the bundle archive (the .tgz from `alga pack`) as the body with Content-Type: application/gzip.',
);
export const metadataHashMismatch = defineError(
  'ALGA_BUNDLE_HASH_MISMATCH',
  'metadata.json says the component is {claimed}, but component.wasm hashes to {actual}; run `alga build` and `alga pack` again.',
);
export const extensionOwnedElsewhere = defineError(
  'ALGA_FORBIDDEN',
  'Extension "{extensionId}" is published by another tenant; choose another "name".',
);
export const publisherMismatch = defineError(
  'ALGA_VERSION_CONFLICT',
  'Extension "{extensionId}" is published by "{publisher}", not "{given}"; set "publisher" to "{publisher}".',
);
export const versionImmutable = defineError(
  'ALGA_VERSION_CONFLICT',
  '{extensionId}@{version} was already published with different content ({contentHash}); published versions are immutable, so bump "version".',
);

// ── Installs, config and secrets ─────────────────────────────────────────────
/** Same message whether the extension is unknown, not installed, disabled or another tenant's. */
export const notInstalled = defineError(
  'ALGA_NOT_FOUND',
  'Extension "{extensionId}" is not installed for this tenant.',
);
/** The web UI's door: an install id that is not this tenant's (or not an id at all). */
export const noSuchInstall = defineError('ALGA_NOT_FOUND', 'No such extension install in this tenant.');
export const notPublished = defineError('ALGA_NOT_FOUND', 'No extension "{extensionId}" is published.');
export const noSuchVersion = defineError(
  'ALGA_NOT_FOUND',
  '{extensionId} has no version "{version}"; published: {available}.',
);
export const noSuchExtension = defineError('ALGA_NOT_FOUND', 'No such extension is published.');
export const uiFileNotFound = defineError('ALGA_NOT_FOUND', 'No such file in this extension UI.');
export const noSuchExtensionVersion = defineError('ALGA_NOT_FOUND', 'No such extension version is published.');
export const alreadyInstalled = defineError(
  'ALGA_VERSION_CONFLICT',
  '{extensionId} is already installed in this tenant.',
);
/** `details.unknown`: the ids. */
export const unknownCapabilities = defineError('ALGA_UNKNOWN_CAPABILITY', 'Unknown capability id(s): {ids}.');
export const grantMissing = defineError(
  'ALGA_VALIDATION_FAILED',
  'The grant is missing capabilities the extension requires: {capabilities}. Add them to "grant".',
);
export const grantUndeclared = defineError(
  'ALGA_VALIDATION_FAILED',
  'The grant includes capabilities the manifest does not declare: {capabilities}. Remove them.',
);
/** `details.consentRequired`: every capability to consent to. */
export const consentMissing = defineError(
  'ALGA_VALIDATION_FAILED',
  'Consent is missing for: {capabilities}. Review the requested access and confirm again.',
);
/** `details`: `[{field, message}]`. */
export const configInvalid = defineError('ALGA_VALIDATION_FAILED', 'The config is invalid: {problems}');
/** `details`: `[{field, message}]` for config fields and `secrets.<key>`. */
export const settingsInvalid = defineError(
  'ALGA_VALIDATION_FAILED',
  'Nothing was saved: fix the highlighted fields and save again.',
);
export const secretUndeclared = defineError(
  'ALGA_VALIDATION_FAILED',
  '"{key}" is not a secret setting of {extensionId}; declared secrets: {declared}.',
);
export const egressInvalid = defineError('ALGA_VALIDATION_FAILED', 'Egress grants refused: {problems}');
export const secretKeyInvalid = defineError('ALGA_VALIDATION_FAILED', '{problem}');
export const secretExpiryInvalid = defineError('ALGA_VALIDATION_FAILED', 'expiresAt for "{key}": {problem}');
export const secretEmpty = defineError(
  'ALGA_VALIDATION_FAILED',
  'The value for "{key}" is empty; to clear it use DELETE.',
);
export const secretTooLarge = defineError('ALGA_VALIDATION_FAILED', 'The value for "{key}" is larger than {kib} KiB.');
/** `details.transitReason`; the backend's own message stays in the server log (`cause`). */
export const secretNotEncrypted = defineError(
  'ALGA_TRANSIT_UNAVAILABLE',
  'The secret could not be encrypted, so nothing was saved: {hint}.',
);
export const settingsNotEncrypted = defineError(
  'ALGA_TRANSIT_UNAVAILABLE',
  'Secrets could not be encrypted, so nothing was saved; try again later.',
);

// ── Gateway and runners ──────────────────────────────────────────────────────
export const gatewayBodyTooLarge = defineError(
  'ALGA_PAYLOAD_TOO_LARGE',
  'The request body is larger than {max} bytes.',
);
export const viewerGatewayWrite = defineError(
  'ALGA_FORBIDDEN',
  'A viewer (API key or signed-in user) may only call GET endpoints; {method} needs an admin.',
);
/** A client-portal user's session on `/api/ext`: the portal's pages use the UI proxy only. */
export const clientPortalGateway = defineError(
  'ALGA_FORBIDDEN',
  'Client-portal users reach extension "{extensionId}" only through its page in the client portal (/api/ext-proxy).',
);
export const endpointNotDeclared = defineError(
  'ALGA_ROUTE_NOT_FOUND',
  '{extensionId} declares no endpoint {method} {path}; declared: {declared}.',
);
export const proxyEndpointNotExposed = defineError(
  'ALGA_ROUTE_NOT_FOUND',
  '{extensionId} exposes no UI-proxy endpoint {method} {path} (endpoints need "proxy": true); exposed: {exposed}.',
);
export const gatewayRateLimited = defineError(
  'ALGA_RATE_LIMITED',
  '{extensionId} is receiving too many requests for this tenant; retry after {seconds} s.',
);
export const noRunnerReachable = defineError(
  'ALGA_RUNNER_UNAVAILABLE',
  'No runner is reachable; check that the runners are started and ALGA_RUNNER_URL points to them.',
);
export const runnerResponseTooLarge = defineError('ALGA_EXECUTION_FAILED', 'The extension response is too large.');
export const runnerDeadline = defineError('ALGA_TIMEOUT', 'The runner did not answer before the gateway deadline.');
export const runnerConnectionLost = defineError(
  'ALGA_EXECUTION_FAILED',
  'The connection to the runner failed while the request was running.',
);
export const runnerAnswerNotJson = defineError(
  'ALGA_EXECUTION_FAILED',
  'The runner answered with a body that is not JSON.',
);
export const guestResponseInvalid = defineError(
  'ALGA_EXECUTION_FAILED',
  'The extension returned an invalid response (status must be 100–599).',
);
/** A runner answered 504 without our error body. */
export const guestTimeout = defineError('ALGA_TIMEOUT', 'The extension did not answer before its deadline.');
/** A runner answered an error without our error body (and not 504). */
export const runnerStatus = defineError('ALGA_EXECUTION_FAILED', 'The runner answered HTTP {status}.');
/** A runner error whose code the client does not get as is; the message is the runner's. */
export const runnerFailed = defineError('ALGA_EXECUTION_FAILED', '{runnerMessage}');

// ── Runner API: storage and logs ─────────────────────────────────────────────
export const entryNotFound = defineError('ALGA_NOT_FOUND', 'No entry with this namespace and key.');
export const valueNotBase64 = defineError('ALGA_VALIDATION_FAILED', 'value_b64 must be standard base64 with padding.');
export const pageLimitTooHigh = defineError('ALGA_VALIDATION_FAILED', 'limit may be at most {max}.');
export const namespaceInvalid = defineError(
  'ALGA_VALIDATION_FAILED',
  'A storage namespace is 1-128 characters, not blank, without control characters, and not "." or "..".',
);
export const keyInvalid = defineError(
  'ALGA_VALIDATION_FAILED',
  'A storage key is 1-{maxBytes} bytes of UTF-8 without control characters, and not "" or "." or "..".',
);
export const cursorForeign = defineError(
  'ALGA_BAD_REQUEST',
  'The cursor is not one this namespace returned; start again without it.',
);
/** `details.currentRevision`. */
export const keyExists = defineError('ALGA_STORAGE_CONFLICT', 'The key already exists (expected it not to).');
/** `details.currentRevision`. */
export const revisionMismatch = defineError(
  'ALGA_STORAGE_CONFLICT',
  'The key is at revision {current}, not {expected}; read it again and retry.',
);
/** `details.currentRevision` (null). */
export const keyMissing = defineError(
  'ALGA_STORAGE_CONFLICT',
  'The key does not exist (expected revision {expected}).',
);
// Quotas: `details: {limit, max}`.
export const valueOverQuota = defineError(
  'ALGA_STORAGE_QUOTA_EXCEEDED',
  'A storage value may be at most {max} bytes (this one is {size}).',
);
export const namespacesOverQuota = defineError(
  'ALGA_STORAGE_QUOTA_EXCEEDED',
  'An install may use at most {max} storage namespaces; delete the keys of one it no longer needs.',
);
export const keysOverQuota = defineError(
  'ALGA_STORAGE_QUOTA_EXCEEDED',
  'Namespace "{namespace}" already holds the maximum of {max} keys.',
);
export const bytesOverQuota = defineError(
  'ALGA_STORAGE_QUOTA_EXCEEDED',
  "The install's storage would exceed its total of {max} bytes (keys and values); delete entries first.",
);

// ── Every request ────────────────────────────────────────────────────────────
/** A path parameter or query name or value the database could not hold; the text is not quoted back. */
export const urlTextInvalid = defineError(
  'ALGA_BAD_REQUEST',
  'The URL is not valid: its {part} holds a NUL character or text that is not Unicode.',
);
/** A JSON body with a string the database could not hold; the text is not quoted back. */
export const bodyTextInvalid = defineError(
  'ALGA_BAD_REQUEST',
  'The body is not valid: a string in it holds a NUL character or text that is not Unicode.',
);

// ── Infrastructure ───────────────────────────────────────────────────────────
export const databaseUnavailable = defineError(
  'ALGA_DATABASE_UNAVAILABLE',
  'The database is unavailable; retry shortly.',
);

// ── Bundle signatures (signing/) ──────────────────────────────────────────────
export const signatureRequired = defineError('ALGA_SIGNATURE_REQUIRED', '{message}');
export const signatureInvalid = defineError('ALGA_SIGNATURE_INVALID', '{message}');
export const signatureUntrusted = defineError('ALGA_SIGNATURE_UNTRUSTED', '{message}');
export const signingKeyRevoked = defineError('ALGA_SIGNING_KEY_REVOKED', '{message}');
export const signatureHeaderMalformed = defineError(
  'ALGA_SIGNATURE_INVALID',
  'The {header} header must be the base64 of a signature JSON document written by `alga sign`.',
);

// ── Provider policy and the platform operator (policy/) ──────────────────────
/** `details.capabilities`: the disabled ones the extension needs. */
export const capabilityDisabled = defineError(
  'ALGA_CAPABILITY_DISABLED',
  'The platform operator has disabled {capabilities} for this tenant, and this extension needs it; ask the operator to enable it.',
);
export const operatorNotConfigured = defineError(
  'ALGA_UNAUTHENTICATED',
  'This server has no operator key configured (ALGA_OPERATOR_KEY or ALGA_OPERATOR_KEY_FILE), so it accepts no operator calls.',
);
export const operatorKeyMissing = defineError(
  'ALGA_UNAUTHENTICATED',
  'Send the operator key as "Authorization: Bearer <key>".',
);
export const operatorKeyInvalid = defineError('ALGA_UNAUTHENTICATED', 'The operator key is not valid.');
/** `details.reason`: `operator`. */
export const operatorOnly = defineError(
  'ALGA_FORBIDDEN',
  'Operator routes (provider policy, tenants and their users) belong to the platform operator: tenant API keys cannot use them.',
);
export const policyNotConfigurable = defineError(
  'ALGA_VALIDATION_FAILED',
  '{capability} is part of every install; provider policy cannot disable it.',
);
export const noSuchTenant = defineError('ALGA_NOT_FOUND', 'No tenant with the id or name "{tenant}".');

// ── API keys (auth/key-service.ts) ───────────────────────────────────────────
export const noSuchApiKey = defineError('ALGA_NOT_FOUND', 'This tenant has no API key {keyId}.');
export const lastAdminKey = defineError(
  'ALGA_CONFLICT',
  "Key {keyId} is the tenant's last active admin key; create another admin key first (alga api-keys create --role admin), then revoke this one.",
);

// ── Tenants and their users (tenants/) ───────────────────────────────────────
export const tenantExists = defineError('ALGA_ALREADY_EXISTS', 'A tenant named "{name}" already exists.');
export const userExists = defineError(
  'ALGA_ALREADY_EXISTS',
  'Tenant "{tenant}" already has a user with the email {email}.',
);
export const clientIdRequired = defineError(
  'ALGA_VALIDATION_FAILED',
  'A client-portal user (role "client") needs the client it belongs to: send clientId (alga users add --client-id).',
);
export const clientIdForStaff = defineError(
  'ALGA_VALIDATION_FAILED',
  'Only client-portal users (role "client") belong to a client; drop clientId for the role "{role}".',
);
