/**
 * The WASI interfaces every component gets from the runner without a
 * capability: the host's clocks, and the pieces of `wasi:io` and `wasi:cli`
 * a componentize-js guest's engine needs to use them (pollables for timers,
 * an error resource, and a stderr stream whose output the runner masks and
 * logs). Nothing here reaches the network, the filesystem or another tenant;
 * time is coarsened to 1 ms.
 *
 * `alga build` enables componentize-js's clocks feature, so `Date.now()`,
 * `new Date()`, `performance.now()` and timers read these; a component built
 * without it (every reference-built one) still runs, but its clock reads the
 * instant it was built.
 */
export const AMBIENT_WASI_INTERFACES = [
  'wasi:clocks/wall-clock',
  'wasi:clocks/monotonic-clock',
  'wasi:io/poll',
  'wasi:io/error',
  'wasi:io/streams',
  'wasi:cli/stderr',
] as const;

export type AmbientWasiInterface = (typeof AMBIENT_WASI_INTERFACES)[number];

/**
 * The componentize-js features a guest is built without: everything but
 * `clocks`, whose imports are the ones above. Shared by `alga build` and the
 * runner's test fixtures so both build the same kind of component.
 */
export const DISABLED_COMPONENTIZE_FEATURES = ['random', 'stdio', 'http', 'fetch-event'] as const;

/** The WASI release line the runner implements (`@0.2.x`). */
export const WASI_VERSION_LINE = '0.2';

/** Clock resolution the runner gives guests, in nanoseconds (a timing-side-channel measure). */
export const CLOCK_RESOLUTION_NS = 1_000_000;

/** The interface of an import name such as `wasi:clocks/wall-clock@0.2.3` when the runner provides it. */
export function ambientWasiInterface(name: string): AmbientWasiInterface | undefined {
  const match = /^(wasi:[a-z-]+\/[a-z-]+)(?:@(\d+)\.(\d+)\.\d+(?:-[0-9a-z.-]+)?)?$/.exec(name);
  if (!match) return undefined;
  const [, iface, major, minor] = match;
  if (major !== undefined && `${major}.${minor}` !== WASI_VERSION_LINE) return undefined;
  return (AMBIENT_WASI_INTERFACES as readonly string[]).includes(iface!) ? (iface as AmbientWasiInterface) : undefined;
}

/** Whether a component's imports include the host clock (else its clock reads its build time). */
export function importsHostClock(imports: readonly string[]): boolean {
  return imports.some((name) => ambientWasiInterface(name) === 'wasi:clocks/wall-clock');
}
