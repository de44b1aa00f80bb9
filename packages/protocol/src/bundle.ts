/**
 * The extension bundle archive (`alga pack` writes it, `POST
 * /api/v1/extensions/publish` reads it): a gzip'd tar whose root holds
 * `manifest.json`, `component.wasm`, `metadata.json`, optionally `wit/**.wit`
 * and `ui/**`. See docs/bundle-format.md.
 *
 * This module is the format's single definition, shared by packer and
 * server: the file names, the limits, and which entry paths and types are
 * allowed. It has no archive code of its own, so it stays dependency-free;
 * the packer and the server each drive `tar` with these rules.
 */
import { AlgaError, type ErrorCode } from './errors.ts';

export const BUNDLE_CONTENT_TYPE = 'application/gzip';
export const BUNDLE_MANIFEST = 'manifest.json';
export const BUNDLE_COMPONENT = 'component.wasm';
export const BUNDLE_METADATA = 'metadata.json';
export const BUNDLE_WIT_DIR = 'wit';
export const BUNDLE_UI_DIR = 'ui';
export const BUNDLE_REQUIRED_FILES = [BUNDLE_MANIFEST, BUNDLE_COMPONENT, BUNDLE_METADATA] as const;

export interface BundleLimits {
  /** Compressed archive size (the request body). */
  maxArchiveBytes: number;
  /** Sum of all file sizes after decompression. */
  maxUncompressedBytes: number;
  /** Uncompressed ÷ compressed, checked once the archive is larger than `ratioFloorBytes`. */
  maxRatio: number;
  /** Below this many uncompressed bytes the ratio is not checked (small JSON compresses very well). */
  ratioFloorBytes: number;
  /** Tar entries, directories included. */
  maxEntries: number;
  maxComponentBytes: number;
  /** Any file other than the component. */
  maxFileBytes: number;
  /** Bytes of one entry path. */
  maxPathBytes: number;
}

export const DEFAULT_BUNDLE_LIMITS: Readonly<BundleLimits> = Object.freeze({
  maxArchiveBytes: 48 * 1024 * 1024,
  maxUncompressedBytes: 128 * 1024 * 1024,
  maxRatio: 100,
  ratioFloorBytes: 1024 * 1024,
  maxEntries: 1000,
  maxComponentBytes: 64 * 1024 * 1024,
  maxFileBytes: 8 * 1024 * 1024,
  maxPathBytes: 255,
});

/** What `alga build` writes next to the component (only the fields the server relies on). */
export interface BundleMetadata {
  name?: string;
  version?: string;
  /** `sha256:<hex>` of component.wasm. */
  contentHash: string;
  size?: number;
  witPackage?: string;
  imports?: string[];
  capabilities?: string[];
  toolchain?: Record<string, string>;
  builtAt?: string;
  [field: string]: unknown;
}

export type BundleArchiveReason =
  | 'too-large'
  | 'not-gzip'
  | 'bad-tar'
  | 'bomb'
  | 'too-many-entries'
  | 'escaping-path'
  | 'link'
  | 'device'
  | 'unexpected-entry'
  | 'duplicate-entry'
  | 'missing-file'
  | 'bad-metadata';

const REASON_CODES: Record<BundleArchiveReason, ErrorCode> = {
  'too-large': 'ALGA_PAYLOAD_TOO_LARGE',
  bomb: 'ALGA_PAYLOAD_TOO_LARGE',
  'not-gzip': 'ALGA_INVALID_ARCHIVE',
  'bad-tar': 'ALGA_INVALID_ARCHIVE',
  'too-many-entries': 'ALGA_INVALID_ARCHIVE',
  'escaping-path': 'ALGA_INVALID_ARCHIVE',
  link: 'ALGA_INVALID_ARCHIVE',
  device: 'ALGA_INVALID_ARCHIVE',
  'unexpected-entry': 'ALGA_INVALID_ARCHIVE',
  'duplicate-entry': 'ALGA_INVALID_ARCHIVE',
  'missing-file': 'ALGA_INVALID_ARCHIVE',
  'bad-metadata': 'ALGA_INVALID_ARCHIVE',
};

/** Every way an archive is refused; `reason` is stable for tests and tools, the code maps to HTTP. */
export class BundleArchiveError extends AlgaError {
  readonly reason: BundleArchiveReason;
  constructor(reason: BundleArchiveReason, message: string, options?: { entry?: string; cause?: unknown }) {
    super(REASON_CODES[reason], message, {
      details: { reason, ...(options?.entry === undefined ? {} : { entry: options.entry }) },
      cause: options?.cause,
    });
    this.name = 'BundleArchiveError';
    this.reason = reason;
  }
}

/** Tar entry types (as `tar` names them) that may appear in a bundle. */
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const LINK_TYPES = new Set(['SymbolicLink', 'Link']);
const DEVICE_TYPES = new Set(['CharacterDevice', 'BlockDevice', 'FIFO']);
// Conservative on purpose: these names end up as URL paths when ui/ files are served.
const SEGMENT_RE = /^[A-Za-z0-9_@+~-][A-Za-z0-9._@+~-]*$/;

export type BundleEntryKind = 'manifest' | 'component' | 'metadata' | 'wit' | 'ui' | 'directory';

/**
 * The reference host's `bundle.tar.zst` (what its `alga pack` writes; see
 * docs/bundle-format.md): tar + zstd, `manifest.json` at the root or one
 * folder down, the component at `dist/main.wasm` or
 * `artifacts/component/component.wasm`, the UI under `ui/`. The same entry
 * safety rules apply; only the layout differs.
 */
export const REFERENCE_BUNDLE_CONTENT_TYPES = ['application/zstd', 'application/x-zstd'] as const;
/** Where the reference layout keeps the component, in the order they are looked for. */
export const REFERENCE_BUNDLE_COMPONENTS = ['dist/main.wasm', 'artifacts/component/component.wasm'] as const;
/** What may sit at the top of a reference bundle (below its optional folder); the runner here reads only the component and ui/. */
const REFERENCE_TOP_LEVEL = new Set(['dist', 'artifacts', 'precompiled', 'ui', 'wit']);
const REFERENCE_ROOT_FILES = new Set([BUNDLE_MANIFEST, 'SIGNATURE', 'sbom.spdx.json']);

/** A segment of a reference bundle's path: any name without control characters, not hidden, not padded. */
export const REFERENCE_SEGMENT_RE = /^[^.\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u;

/** A path with a hidden segment (`.DS_Store`, `img/.gitkeep`): the reference host skips these entries. */
export function isHiddenBundlePath(rawPath: string): boolean {
  return rawPath
    .replace(/^(?:\.\/)+/, '')
    .split('/')
    .some((part) => part.startsWith('.') && part !== '..' && part !== '.');
}

/** Whether a path (below the bundle's folder) belongs to the reference layout. */
export function isReferenceBundlePath(path: string): boolean {
  const [top, ...rest] = path.split('/');
  return rest.length === 0 ? REFERENCE_ROOT_FILES.has(top!) : REFERENCE_TOP_LEVEL.has(top!);
}

export type BundleEntryCheck =
  { ok: true; path: string; kind: BundleEntryKind } | { ok: false; reason: BundleArchiveReason; message: string };

function printable(path: string): string {
  return JSON.stringify(path.length > 120 ? `${path.slice(0, 120)}…` : path);
}

/**
 * Decides whether one tar entry may be part of a bundle. Returns the
 * normalized path (no leading `./`, no trailing `/`) and what the entry is.
 * Paths are checked as the raw strings the archive carries, never resolved
 * against a directory, so nothing here can be tricked into looking outside.
 */
export function checkBundleEntry(
  rawPath: string,
  type: string,
  limits: Pick<BundleLimits, 'maxPathBytes'> = DEFAULT_BUNDLE_LIMITS,
): BundleEntryCheck {
  const safe = checkEntrySafety(rawPath, type, limits);
  if (!safe.ok) return safe;
  return classifyEntry(safe.path, safe.directory, printable(rawPath));
}

export type EntrySafety =
  { ok: true; path: string; directory: boolean } | { ok: false; reason: BundleArchiveReason; message: string };

/**
 * The rules every bundle entry obeys, whatever the layout: regular files and
 * directories only (no links, devices), relative paths without `..`, plain
 * segments, bounded length. Answers the normalized path.
 */
export function checkEntrySafety(
  rawPath: string,
  type: string,
  limits: Pick<BundleLimits, 'maxPathBytes'> = DEFAULT_BUNDLE_LIMITS,
  /** What a path segment may be; the reference layout takes any visible name (`My Logo.png`). */
  segment: RegExp = SEGMENT_RE,
): EntrySafety {
  const shown = printable(rawPath);
  if (LINK_TYPES.has(type)) {
    return { ok: false, reason: 'link', message: `${shown} is a link; bundles may only hold regular files.` };
  }
  if (DEVICE_TYPES.has(type)) {
    return {
      ok: false,
      reason: 'device',
      message: `${shown} is a device or FIFO; bundles may only hold regular files.`,
    };
  }
  const isDirectory = type === 'Directory';
  if (!isDirectory && !FILE_TYPES.has(type)) {
    return {
      ok: false,
      reason: 'unexpected-entry',
      message: `${shown} has tar type "${type}"; bundles may only hold regular files and directories.`,
    };
  }
  if (new TextEncoder().encode(rawPath).length > limits.maxPathBytes) {
    return { ok: false, reason: 'unexpected-entry', message: `${shown} is longer than ${limits.maxPathBytes} bytes.` };
  }
  if (rawPath.startsWith('/') || rawPath.startsWith('\\') || /^[A-Za-z]:/.test(rawPath)) {
    return {
      ok: false,
      reason: 'escaping-path',
      message: `${shown} is an absolute path; use paths relative to the root.`,
    };
  }
  if (rawPath.includes('\\') || rawPath.includes('\0')) {
    return { ok: false, reason: 'escaping-path', message: `${shown} contains a backslash or NUL; use "/" separators.` };
  }
  let path = rawPath;
  while (path.startsWith('./')) path = path.slice(2);
  if (isDirectory) path = path.replace(/\/+$/, '');
  const segments = path === '' || path === '.' ? [] : path.split('/');
  if (segments.includes('..')) {
    return {
      ok: false,
      reason: 'escaping-path',
      message: `${shown} contains ".."; entries cannot leave the bundle root.`,
    };
  }
  if (segments.some((part) => !segment.test(part))) {
    return {
      ok: false,
      reason: 'unexpected-entry',
      message: `${shown} has an empty, hidden or unusual path segment; use letters, digits and . _ - @ + ~ only.`,
    };
  }
  return { ok: true, path: segments.join('/'), directory: isDirectory };
}

function classifyEntry(normalized: string, isDirectory: boolean, shown: string): BundleEntryCheck {
  const segments = normalized === '' ? [] : normalized.split('/');
  const [top, ...rest] = segments;
  if (isDirectory) {
    if (segments.length === 0 || top === BUNDLE_UI_DIR || top === BUNDLE_WIT_DIR) {
      return { ok: true, path: normalized, kind: 'directory' };
    }
  } else if (rest.length === 0) {
    if (top === BUNDLE_MANIFEST) return { ok: true, path: normalized, kind: 'manifest' };
    if (top === BUNDLE_COMPONENT) return { ok: true, path: normalized, kind: 'component' };
    if (top === BUNDLE_METADATA) return { ok: true, path: normalized, kind: 'metadata' };
  } else if (top === BUNDLE_WIT_DIR && normalized.endsWith('.wit')) {
    return { ok: true, path: normalized, kind: 'wit' };
  } else if (top === BUNDLE_UI_DIR) {
    return { ok: true, path: normalized, kind: 'ui' };
  }
  return {
    ok: false,
    reason: 'unexpected-entry',
    message: `${shown} is not part of the bundle format; the root may hold only ${BUNDLE_REQUIRED_FILES.join(', ')}, wit/*.wit and ui/**.`,
  };
}
