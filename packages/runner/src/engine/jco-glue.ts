/**
 * The one adapter between the runner and jco's generated JS glue. Everything
 * the runner assumes about that glue lives here, and `jco-glue.test.ts`
 * fails when a jco upgrade changes any of it:
 *
 * - how a component is transpiled (sync instantiation: the handler call and
 *   the guest's imports stay synchronous, which the worker's bridge needs);
 * - the three text patches applied to the glue (`readDebugFlagOnce`,
 *   `directMonotonicClock`, `directHostImports`);
 * - how the glue looks imports up (by unversioned interface name) and how it
 *   lowers a thrown value with an own `payload` property into the `err` case
 *   of a `result` (`getErrorPayload`), which `guestValue` relies on;
 * - that `instantiate` takes an `instantiateCore` hook (the reset snapshot
 *   records the core instances through it).
 */
import { WIT_PACKAGE, WIT_VERSION } from '@alga-psa/protocol';
import type { RunnerWithWarmUp } from '../../generated/runner-with-warm-up.js';
import type { HostOutcome } from '../host-calls/index.ts';

/** The name jco gives the glue and core modules (`component.js`, `component.core.wasm`). */
export const GLUE_NAME = 'component';

/** What an instantiated component exposes: `handler`, and `warmUp` when built by `alga build`. */
export type GuestRoot = Pick<RunnerWithWarmUp, 'handler'> & Partial<Pick<RunnerWithWarmUp, 'warmUp'>>;

export type GuestImports = Record<string, Record<string, (...args: unknown[]) => unknown>>;

export type InstantiateCore = (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance;

/** The glue's `instantiate` (sync instantiation). */
export type Instantiate = (
  getCoreModule: (path: string) => WebAssembly.Module,
  imports: GuestImports,
  instantiateCore?: InstantiateCore,
) => GuestRoot;

export interface TranspiledComponent {
  /** ES module source exporting `instantiate` (patched, see `readDebugFlagOnce`). */
  glue: string;
  /** Core module bytes by the file name the glue asks for. */
  wasm: Record<string, Uint8Array>;
}

/** Transpiles a component's bytes into glue and core modules; throws jco's error for an invalid component. */
export async function transpileComponent(bytes: Uint8Array): Promise<TranspiledComponent> {
  // Loaded on first use: worker threads import this file but never transpile, and
  // jco's module graph would add ~50 ms to every worker's boot.
  const { transpile } = await import('@bytecodealliance/jco');
  const { files } = await transpile(bytes, {
    name: GLUE_NAME,
    instantiation: 'sync',
    noTypescript: true,
    quiet: true,
  });
  const glue = files[`${GLUE_NAME}.js`];
  if (!glue) throw new Error(`jco produced no ${GLUE_NAME}.js.`);
  const wasm: Record<string, Uint8Array> = {};
  for (const [file, content] of Object.entries(files)) if (file.endsWith('.wasm')) wasm[file] = content;
  const text = Buffer.from(glue).toString('utf8');
  return { glue: directHostImports(directMonotonicClock(readDebugFlagOnce(text))), wasm };
}

/** The check jco's glue makes in every internal debug-log call. */
export const JCO_DEBUG_CHECK = 'globalThis?.process?.env?.JCO_DEBUG';

/**
 * Reads `JCO_DEBUG` once when the glue loads instead of on every debug-log
 * call (a `process.env` read is a C++ interceptor call, several per request);
 * JCO_DEBUG still works when set before the runner starts. Glue without that
 * exact check is left as it is.
 */
export function readDebugFlagOnce(glue: string): string {
  if (!glue.includes(JCO_DEBUG_CHECK)) return glue;
  return `const __algaJcoDebug = ${JCO_DEBUG_CHECK};\n${glue.replaceAll(JCO_DEBUG_CHECK, '__algaJcoDebug')}`;
}

/** jco's binding of the host's monotonic clock, inside `instantiate`. */
const MONOTONIC_BINDING = /const \{ now(?:, [\w, ]+)? \} = imports\['wasi:clocks\/monotonic-clock'\];/;
/** Where a core module imports it: through a trampoline of jco's task machinery. */
const MONOTONIC_CORE_IMPORT =
  /('wasi:clocks\/monotonic-clock@[\w.-]+': \{\s*now: Object\.assign\()trampoline\d+(, \{ _jcoMaySuspend: false \}\))/g;

/**
 * Hands the guest's core module the host's monotonic clock directly instead
 * of through jco's per-call task and subtask bookkeeping: a JS guest reads
 * it ~23 times per request (its event loop), and each read through the
 * machinery cost more than the clock (docs/perf/038-runner-execute-path.md).
 * Nothing the machinery checks applies to it: it takes no arguments, touches
 * no guest memory or resource, never re-enters the guest and never throws
 * (wasi/index.ts). Glue without exactly these shapes is left as it is.
 */
export function directMonotonicClock(glue: string): string {
  if (!MONOTONIC_BINDING.test(glue) || !glue.includes('function toUint64(val)')) return glue;
  return glue.replace(MONOTONIC_CORE_IMPORT, '$1() => toUint64(now())$2');
}

/** One sync host import's trampoline, from its definition to the line naming it. */
const HOST_TRAMPOLINE =
  / {2}const _trampoline(\d+) = function\(([\w, ]*)\) \{\n([\s\S]*?)\n {2}\}\n {2}_trampoline\1\.fnName = '[^'\n]+';\n/g;
/** The task set-up at the top of a host trampoline: a host task under the caller's subtask. */
const TASK_SETUP =
  /const hostProvided = true;\n[\s\S]*?taskCreation: \{[\s\S]*?\n {4}const started = task\.enterSync\(\);\n/;
/** The host call, run as the current task: the call alone is kept. */
const TASK_CALL =
  /_withGlobalCurrentTaskMeta\(\{\n\s*componentIdx: task\.componentIdx\(\),\n\s*taskID: task\.id\(\),\n\s*fn: \(\) => (_trackHostOperation\(\(\) => [\s\S]*?\)),\n\s*\}\)\n(\s*);/;
/** A trap's bookkeeping on the host task (the trap itself, `markTrapped` and the rethrow, stay). */
const TASK_TRAP = [
  /_debugLog\('\[Instruction::CallInterface\] error during sync call', \{\n\s*taskID: task\.id\(\),\n\s*subtaskID: task\.getParentSubtask\(\)\?\.id\(\),\n\s*err,\n\s*\}\);\n\s*/,
  /task\.setErrored\(err\);\n\s*task\.reject\(err\);\n\s*task\.exit\(\);\n\s*/,
];
/** The task's end: its result is what the trampoline returns (or nothing, for a result written to memory). */
const TASK_END = /task\.resolve\(\[[^\n]*\]\);\n\s*task\.exit\(\);/;
/** What may not be left in a trampoline once its task is gone. */
const TASK_LEFT = /\b(?:task|subtask|parentTask|createTask|hostProvided)\b/;

/**
 * Gives the guest's sync host imports (config, secrets, logging, context,
 * random, …) plain trampolines instead of jco's per-call task bookkeeping:
 * for each call the glue creates a subtask under the guest's export task
 * and a host task under that, enters, resolves and exits both, and a
 * request makes several such calls (docs/perf/041-direct-host-imports.md).
 * What a direct trampoline keeps: the may-leave check (`_guardMayLeave`, as
 * the glue guards its own helpers), lifting the arguments, the call, the
 * `result` error handling, `markTrapped` on a trap, and lowering the result
 * into guest memory (`realloc` runs under the export's task, as before).
 *
 * Only a trampoline in exactly the shape below is changed, and only when
 * none of its code is left referring to the task; any other (a resource
 * borrow, an async import) keeps jco's path. `jco-glue.test.ts` fails if a
 * jco upgrade changes the shape for the imports a guest uses per request.
 */
export function directHostImports(glue: string): string {
  if (!glue.includes('function _guardMayLeave(componentIdx, fn)')) return glue;
  const direct = new Set<string>();
  let out = glue.replace(HOST_TRAMPOLINE, (whole, index: string, params: string, body: string) => {
    if (!TASK_SETUP.test(body) || !TASK_CALL.test(body) || !TASK_END.test(body)) return whole;
    let stripped = body.replace(TASK_SETUP, '').replace(TASK_CALL, '$1\n$2;').replace(TASK_END, '');
    for (const trap of TASK_TRAP) stripped = stripped.replace(trap, '');
    if (TASK_LEFT.test(stripped)) return whole;
    direct.add(index);
    return `${whole}  const _algaDirect${index} = function(${params}) {\n${stripped}\n  };\n`;
  });
  for (const index of direct) {
    // The sync (non-suspending) lowering of this import; the JSPI branch before it is left alone.
    const start = `: _lowerImportBackwardsCompat.bind(\n  null,\n  {\n    trampolineIdx: ${index},\n`;
    const end = `\n    importFn: _trampoline${index},\n  },\n  );`;
    const from = out.indexOf(start);
    const to = from === -1 ? -1 : out.indexOf(end, from);
    if (to === -1) continue;
    const options = out.slice(from + start.length, to);
    const component = /^ {4}componentIdx: (\d+),\n {4}isAsync: false,\n/.exec(options)?.[1];
    // A sync function lowered synchronously, and nothing of another lowering in between.
    if (!component || !options.includes('\n    funcTypeIsAsync: false,') || options.includes('trampolineIdx:'))
      continue;
    out = `${out.slice(0, from)}: _guardMayLeave(${component}, _algaDirect${index});${out.slice(to + end.length)}`;
  }
  return out;
}

/** Imports the glue without touching the filesystem (a data: URL). */
export async function importGlue(glue: string): Promise<Instantiate> {
  const url = `data:text/javascript;base64,${Buffer.from(glue, 'utf8').toString('base64')}`;
  return ((await import(url)) as { instantiate: Instantiate }).instantiate;
}

/**
 * The keys an interface's functions go under in the imports object: jco's
 * glue looks them up by the unversioned name; the versioned one is supplied
 * too for glue that keeps the version.
 */
export function importKeys(iface: string): string[] {
  return [`${WIT_PACKAGE}/${iface}`, `${WIT_PACKAGE}/${iface}@${WIT_VERSION}`];
}

/** A host call's outcome as the glue expects it: the value, a thrown `payload` (a WIT `err`), or a trap. */
export function guestValue(iface: string, fn: string, outcome: HostOutcome): unknown {
  if (outcome.kind === 'ok') return outcome.value;
  if (outcome.kind === 'err') {
    // The glue's `getErrorPayload` lowers a thrown value with an own `payload`
    // into the `err` case of the import's `result<T, E>`; any other Error traps.
    throw Object.assign(new Error(`${WIT_PACKAGE}/${iface}.${fn} returned an error`), { payload: outcome.payload });
  }
  throw new Error(outcome.message);
}

const MAX_DETAIL = 4096;

/** A log-sized description of a failure: the glue's data: URL would otherwise fill every stack frame. */
export function describeFailure(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return text.replace(/data:text\/javascript;base64,[A-Za-z0-9+/=]+/g, '<component glue>').slice(0, MAX_DETAIL);
}
