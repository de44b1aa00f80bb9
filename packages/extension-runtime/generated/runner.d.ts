// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./interfaces/alga-extension-config.d.ts" />
/// <reference path="./interfaces/alga-extension-context.d.ts" />
/// <reference path="./interfaces/alga-extension-http.d.ts" />
/// <reference path="./interfaces/alga-extension-logging.d.ts" />
/// <reference path="./interfaces/alga-extension-random.d.ts" />
/// <reference path="./interfaces/alga-extension-secrets.d.ts" />
/// <reference path="./interfaces/alga-extension-storage.d.ts" />
/// <reference path="./interfaces/alga-extension-types.d.ts" />
/// <reference path="./interfaces/alga-extension-ui-proxy.d.ts" />
/// <reference path="./interfaces/alga-extension-user.d.ts" />
declare module 'alga:extension/runner@0.1.0' {
  export type ExecuteRequest = import('alga:extension/types@0.1.0').ExecuteRequest;
  export type ExecuteResponse = import('alga:extension/types@0.1.0').ExecuteResponse;
  export type * as AlgaExtensionConfig010 from 'alga:extension/config@0.1.0'; // import alga:extension/config@0.1.0
  export type * as AlgaExtensionContext010 from 'alga:extension/context@0.1.0'; // import alga:extension/context@0.1.0
  export type * as AlgaExtensionHttp010 from 'alga:extension/http@0.1.0'; // import alga:extension/http@0.1.0
  export type * as AlgaExtensionLogging010 from 'alga:extension/logging@0.1.0'; // import alga:extension/logging@0.1.0
  export type * as AlgaExtensionRandom010 from 'alga:extension/random@0.1.0'; // import alga:extension/random@0.1.0
  export type * as AlgaExtensionSecrets010 from 'alga:extension/secrets@0.1.0'; // import alga:extension/secrets@0.1.0
  export type * as AlgaExtensionStorage010 from 'alga:extension/storage@0.1.0'; // import alga:extension/storage@0.1.0
  export type * as AlgaExtensionTypes010 from 'alga:extension/types@0.1.0'; // import alga:extension/types@0.1.0
  export type * as AlgaExtensionUiProxy010 from 'alga:extension/ui-proxy@0.1.0'; // import alga:extension/ui-proxy@0.1.0
  export type * as AlgaExtensionUser010 from 'alga:extension/user@0.1.0'; // import alga:extension/user@0.1.0
  export function handler(request: ExecuteRequest): ExecuteResponse;
}
