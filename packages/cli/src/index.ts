export {
  buildExtension,
  BuildError,
  checkToolchain,
  ToolchainError,
  loadManifest,
  ManifestError,
  WIT_DIR,
  type BuildMetadata,
  type BuildResult,
} from './build/index.ts';
export { ApiClient, ServerApiError, type InstallView } from './api/client.ts';
export { scaffold } from './commands/new.ts';
