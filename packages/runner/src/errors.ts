/**
 * The runner's error kinds: each a registry code (protocol's errors.ts) and
 * the message its throw sites fill in. Messages reach the gateway and often
 * the client: they say what happened, never a secret, a guest's stack or
 * another tenant's ids.
 */
import { defineError } from '@alga-psa/protocol';

export const errors = {
  // The execute request and its credentials.
  unknownCapability: defineError('ALGA_UNKNOWN_CAPABILITY', 'Unknown capability id: {ids}.'),
  tokenRefused: defineError('ALGA_UNAUTHENTICATED', '{reason}'),
  tokenScope: defineError('ALGA_FORBIDDEN', '{reason}'),
  tokenForAnotherInstall: defineError('ALGA_FORBIDDEN', 'The service token was issued for another tenant or install.'),

  // Loading the bundle.
  bundleNotFound: defineError('ALGA_BUNDLE_NOT_FOUND', 'No bundle with this content hash.'),
  bundleHashMismatch: defineError('ALGA_BUNDLE_HASH_MISMATCH', 'The bundle does not match its content hash.'),
  invalidComponent: defineError('ALGA_INVALID_COMPONENT', 'The bundle is not a valid extension component.'),
  // The publisher signature, checked against this runner's own trust policy (trust.ts).
  signatureRequired: defineError('ALGA_SIGNATURE_REQUIRED', '{message}'),
  signatureInvalid: defineError('ALGA_SIGNATURE_INVALID', '{message}'),
  signatureUntrusted: defineError('ALGA_SIGNATURE_UNTRUSTED', '{message}'),
  signingKeyRevoked: defineError('ALGA_SIGNING_KEY_REVOKED', '{message}'),
  memoryFloor: defineError('ALGA_MEMORY_LIMIT', '{detail}'),

  // Running it.
  executionFailed: defineError('ALGA_EXECUTION_FAILED', 'The extension failed while handling the request.'),
  invalidStatus: defineError('ALGA_EXECUTION_FAILED', 'The extension answered with an invalid HTTP status {status}.'),
  memoryLimit: defineError('ALGA_MEMORY_LIMIT', 'The extension exceeded its memory limit.'),
  timeout: defineError('ALGA_TIMEOUT', 'The extension did not answer before its deadline.'),
  busy: defineError('ALGA_RUNNER_UNAVAILABLE', 'All workers are busy; retry shortly.'),
  shuttingDown: defineError('ALGA_RUNNER_UNAVAILABLE', 'The runner is shutting down.'),
};
