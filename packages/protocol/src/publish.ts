/** The answer of both publish endpoints (`/extensions/publish` with an archive, and the two-step `/extensions/versions`). */
export interface PublishedVersion {
  extensionId: string;
  version: string;
  contentHash: string;
  /** What publish accepted but the author should hear about (a component whose clock reads its build time). */
  warnings: string[];
  /** The archive route only: the archive's hash, the component's imports and the UI files it holds. */
  archiveHash?: string;
  imports?: string[];
  uiFiles?: string[];
  /** The publisher key id that signed the version (`alga publish --sign`); null when unsigned. */
  signedBy?: string | null;
}
