// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/storage@0.3.0 **/
export function get(namespace: string, key: string): StorageEntry;
export function put(entry: StorageEntry): StorageEntry;
export { _delete as delete };
function _delete(namespace: string, key: string): void;
export function listEntries(namespace: string, cursor: string | undefined): Array<StorageEntry>;
/**
 * Additive: like `list-entries`, but returns the next page's cursor.
 */
export function listPage(namespace: string, cursor: string | undefined): StoragePage;
export type StorageEntry = import('./alga-extension-types.js').StorageEntry;
export type StorageError = import('./alga-extension-types.js').StorageError;
export type StoragePage = import('./alga-extension-types.js').StoragePage;
