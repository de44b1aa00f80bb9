// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./interfaces/alga-extension-clients.d.ts" />
/// <reference path="./interfaces/alga-extension-config.d.ts" />
/// <reference path="./interfaces/alga-extension-context.d.ts" />
/// <reference path="./interfaces/alga-extension-http.d.ts" />
/// <reference path="./interfaces/alga-extension-invoicing.d.ts" />
/// <reference path="./interfaces/alga-extension-logging.d.ts" />
/// <reference path="./interfaces/alga-extension-random.d.ts" />
/// <reference path="./interfaces/alga-extension-scheduler.d.ts" />
/// <reference path="./interfaces/alga-extension-secrets.d.ts" />
/// <reference path="./interfaces/alga-extension-services.d.ts" />
/// <reference path="./interfaces/alga-extension-storage.d.ts" />
/// <reference path="./interfaces/alga-extension-types.d.ts" />
/// <reference path="./interfaces/alga-extension-ui-proxy.d.ts" />
/// <reference path="./interfaces/alga-extension-user-v2.d.ts" />
/// <reference path="./interfaces/alga-extension-user.d.ts" />
declare module 'alga:extension/runner@0.3.0' {
  export type ExecuteRequest = import('alga:extension/types@0.3.0').ExecuteRequest;
  export type ExecuteResponse = import('alga:extension/types@0.3.0').ExecuteResponse;
  export type * as AlgaExtensionClients030 from 'alga:extension/clients@0.3.0'; // import alga:extension/clients@0.3.0
  export type * as AlgaExtensionConfig030 from 'alga:extension/config@0.3.0'; // import alga:extension/config@0.3.0
  export type * as AlgaExtensionContext030 from 'alga:extension/context@0.3.0'; // import alga:extension/context@0.3.0
  export type * as AlgaExtensionHttp030 from 'alga:extension/http@0.3.0'; // import alga:extension/http@0.3.0
  export type * as AlgaExtensionInvoicing030 from 'alga:extension/invoicing@0.3.0'; // import alga:extension/invoicing@0.3.0
  export type * as AlgaExtensionLogging030 from 'alga:extension/logging@0.3.0'; // import alga:extension/logging@0.3.0
  export type * as AlgaExtensionRandom030 from 'alga:extension/random@0.3.0'; // import alga:extension/random@0.3.0
  export type * as AlgaExtensionScheduler030 from 'alga:extension/scheduler@0.3.0'; // import alga:extension/scheduler@0.3.0
  export type * as AlgaExtensionSecrets030 from 'alga:extension/secrets@0.3.0'; // import alga:extension/secrets@0.3.0
  export type * as AlgaExtensionServices030 from 'alga:extension/services@0.3.0'; // import alga:extension/services@0.3.0
  export type * as AlgaExtensionStorage030 from 'alga:extension/storage@0.3.0'; // import alga:extension/storage@0.3.0
  export type * as AlgaExtensionTypes030 from 'alga:extension/types@0.3.0'; // import alga:extension/types@0.3.0
  export type * as AlgaExtensionUiProxy030 from 'alga:extension/ui-proxy@0.3.0'; // import alga:extension/ui-proxy@0.3.0
  export type * as AlgaExtensionUserV2030 from 'alga:extension/user-v2@0.3.0'; // import alga:extension/user-v2@0.3.0
  export type * as AlgaExtensionUser030 from 'alga:extension/user@0.3.0'; // import alga:extension/user@0.3.0
  export function handler(request: ExecuteRequest): ExecuteResponse;
}
