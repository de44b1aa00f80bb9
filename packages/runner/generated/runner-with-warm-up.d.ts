// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
// world alga:extension/runner-with-warm-up@0.3.0
export type ExecuteRequest = import('./interfaces/alga-extension-types.js').ExecuteRequest;
export type ExecuteResponse = import('./interfaces/alga-extension-types.js').ExecuteResponse;
import type * as AlgaExtensionClients from './interfaces/alga-extension-clients.js'; // alga:extension/clients@0.3.0
import type * as AlgaExtensionConfig from './interfaces/alga-extension-config.js'; // alga:extension/config@0.3.0
import type * as AlgaExtensionContext from './interfaces/alga-extension-context.js'; // alga:extension/context@0.3.0
import type * as AlgaExtensionHttp from './interfaces/alga-extension-http.js'; // alga:extension/http@0.3.0
import type * as AlgaExtensionInvoicing from './interfaces/alga-extension-invoicing.js'; // alga:extension/invoicing@0.3.0
import type * as AlgaExtensionLogging from './interfaces/alga-extension-logging.js'; // alga:extension/logging@0.3.0
import type * as AlgaExtensionRandom from './interfaces/alga-extension-random.js'; // alga:extension/random@0.3.0
import type * as AlgaExtensionScheduler from './interfaces/alga-extension-scheduler.js'; // alga:extension/scheduler@0.3.0
import type * as AlgaExtensionSecrets from './interfaces/alga-extension-secrets.js'; // alga:extension/secrets@0.3.0
import type * as AlgaExtensionServices from './interfaces/alga-extension-services.js'; // alga:extension/services@0.3.0
import type * as AlgaExtensionStorage from './interfaces/alga-extension-storage.js'; // alga:extension/storage@0.3.0
import type * as AlgaExtensionTypes from './interfaces/alga-extension-types.js'; // alga:extension/types@0.3.0
import type * as AlgaExtensionUiProxy from './interfaces/alga-extension-ui-proxy.js'; // alga:extension/ui-proxy@0.3.0
import type * as AlgaExtensionUserV2 from './interfaces/alga-extension-user-v2.js'; // alga:extension/user-v2@0.3.0
import type * as AlgaExtensionUser from './interfaces/alga-extension-user.js'; // alga:extension/user@0.3.0
export interface ImportObject {
  'alga:extension/clients@0.3.0': typeof AlgaExtensionClients,
  'alga:extension/config@0.3.0': typeof AlgaExtensionConfig,
  'alga:extension/context@0.3.0': typeof AlgaExtensionContext,
  'alga:extension/http@0.3.0': typeof AlgaExtensionHttp,
  'alga:extension/invoicing@0.3.0': typeof AlgaExtensionInvoicing,
  'alga:extension/logging@0.3.0': typeof AlgaExtensionLogging,
  'alga:extension/random@0.3.0': typeof AlgaExtensionRandom,
  'alga:extension/scheduler@0.3.0': typeof AlgaExtensionScheduler,
  'alga:extension/secrets@0.3.0': typeof AlgaExtensionSecrets,
  'alga:extension/services@0.3.0': typeof AlgaExtensionServices,
  'alga:extension/storage@0.3.0': typeof AlgaExtensionStorage,
  'alga:extension/types@0.3.0': typeof AlgaExtensionTypes,
  'alga:extension/ui-proxy@0.3.0': typeof AlgaExtensionUiProxy,
  'alga:extension/user-v2@0.3.0': typeof AlgaExtensionUserV2,
  'alga:extension/user@0.3.0': typeof AlgaExtensionUser,
}
export interface RunnerWithWarmUp {
  /**
  * Arms the warm-up: the runner calls this once on a new instance and then
  * `handler` once with a synthetic request (no tenant, no data; host calls
  * answer empty). That call must not run the extension's own code and must
  * answer 204 with the header `alga-warm-up: done`; the runner then takes
  * the instance's reset snapshot, so the engine's and the SDK's first-call
  * work is done once instead of on every request. Any other answer and the
  * runner discards the instance and serves this component without warm-up.
  */
  warmUp(): void,
  handler(request: ExecuteRequest): ExecuteResponse,
}

/**
* Instantiates this component with the provided imports and
* returns a map of all the exports of the component.
*
* This function is intended to be similar to the
* `WebAssembly.Instantiate` constructor. The second `imports`
* argument is the "import object" for wasm, except here it
* uses component-model-layer types instead of core wasm
* integers/numbers/etc.
*
* The first argument to this function, `getCoreModule`, is
* used to compile core wasm modules within the component.
* Components are composed of core wasm modules and this callback
* will be invoked per core wasm module. The caller of this
* function is responsible for reading the core wasm module
* identified by `path` and returning its compiled
* `WebAssembly.Module` object. This would use the
* `WebAssembly.Module` constructor on the web, for example.
*/
export function instantiate(
getCoreModule: (path: string) => WebAssembly.Module,
imports: ImportObject,
instantiateCore?: (module: WebAssembly.Module, imports: Record<string, any>) => WebAssembly.Instance
): RunnerWithWarmUp;

