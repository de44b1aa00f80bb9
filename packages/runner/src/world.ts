/**
 * The `runner` world of wit/alga-extension.wit as jco's sync glue sees it:
 * import keys are the UNVERSIONED interface names and function names are
 * camelCase. Kept in one table so the worker can supply every import and the
 * provider registry can be checked against it at start-up.
 */
export { WIT_VERSION } from '@alga-psa/protocol';

export const WIT_PACKAGE_PREFIX = 'alga:extension/';

export const WORLD_FUNCTIONS = {
  context: ['getContext'],
  config: ['get', 'getAll'],
  random: ['getRandomBytes'],
  secrets: ['get', 'listKeys'],
  http: ['fetch'],
  storage: ['get', 'put', 'delete', 'listEntries', 'listPage'],
  logging: ['logInfo', 'logWarn', 'logError'],
  'ui-proxy': ['callRoute'],
  user: ['getUser'],
} as const satisfies Record<string, readonly string[]>;

export type WorldInterface = keyof typeof WORLD_FUNCTIONS;

export const WORLD_INTERFACES = Object.keys(WORLD_FUNCTIONS) as WorldInterface[];

/** The WIT `http-header` record. */
export interface WitHeader {
  name: string;
  value: string;
}

/** The WIT `execute-request` record as jco lowers it from JS. */
export interface WitExecuteRequest {
  context: {
    requestId: string | undefined;
    tenantId: string;
    extensionId: string;
    installId: string | undefined;
    versionId: string | undefined;
  };
  http: {
    method: string;
    url: string;
    headers: WitHeader[];
    body: Uint8Array | undefined;
  };
}

/** The WIT `execute-response` record as jco lifts it to JS. */
export interface WitExecuteResponse {
  status: number;
  headers: WitHeader[];
  body?: Uint8Array | undefined;
}
