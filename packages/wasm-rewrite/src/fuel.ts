/**
 * Fuel: a rewrite that lets the host bound how long a module runs without
 * another thread, so it can run a module on its own thread, where nothing
 * else could stop a spinning guest (`worker.terminate()` only stops other
 * threads, and `vm`'s timeout starts a watchdog thread per call).
 *
 * The module gets one more mutable i64 global, exported as `alga-fuel`.
 * Every loop iteration and every entry into a function that makes calls
 * takes one unit; when the count goes below zero the module executes
 * `unreachable`. That trap is not an exception, so no `catch_all` in the
 * guest can swallow it, and every unbounded execution passes one of those
 * points (it loops, or it recurses, and recursion needs a call). Functions
 * that make no calls and have no loop end on their own and are left alone.
 *
 * The global starts at 2^63 − 1 (never runs out), so an instance nobody
 * meters behaves as before; the host sets it before a metered call and back
 * after. Units are loop iterations and calls, not time: a budget is a
 * measure of work, for the caller to calibrate against its guests.
 *
 * Hand-written for the same reason as write-tracking.ts: one streaming pass
 * that copies every function body with a few inserted instructions.
 */
import { AFTER_EXPORT, KIND, readImport, Reader, SECTION, sections, skipValType, Writer } from './binary.ts';
import { nextInstruction, OP, type Instruction } from './instructions.ts';

/** Export name of the fuel global (i64; the module traps once it is below zero). */
export const FUEL_EXPORT = 'alga-fuel';
/** The fuel an instance starts with: effectively unlimited. */
export const UNLIMITED_FUEL = 2n ** 63n - 1n;

/** Calls: a function that has none cannot recurse, so its entry needs no check. */
const CALLS: ReadonlySet<number> = new Set([0x10, 0x11, 0x12, 0x13, 0x14, 0x15]);

/** `fuel -= 1; if (fuel < 0) unreachable` */
function emitCheck(w: Writer, global: number): void {
  w.byte(0x23).u32(global).byte(0x42).s32(1).byte(0x7d).byte(0x24).u32(global); // global.get; i64.const 1; i64.sub; global.set
  w.byte(0x23).u32(global).byte(0x42).s32(0).byte(0x53); // global.get; i64.const 0; i64.lt_s
  w.bytes([0x04, 0x40, 0x00, 0x0b]); // if; unreachable; end
}

/** Signed LEB128 of a 64-bit integer (`i64.const`). */
function sleb64(value: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = Number(value & 0x7fn);
    value >>= 7n;
    if ((value === 0n && (byte & 0x40) === 0) || (value === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** Copies one function body into `out` with the checks inserted. */
function meterFunction(
  module: Uint8Array,
  start: number,
  end: number,
  global: number,
  body: Writer,
  out: Writer,
): void {
  const reader = new Reader(module.subarray(0, end), start);
  for (let groups = reader.u32(); groups > 0; groups--) {
    reader.u32();
    skipValType(reader);
  }
  const localsEnd = reader.offset;
  body.length = 0;
  let copied = localsEnd;
  let calls = false;
  const ins: Instruction = { op: 0, start: 0, memory: 0, offset: 0, index: 0 };
  while (reader.offset < end) {
    nextInstruction(reader, ins);
    if (ins.op === OP.loop) {
      // After `loop bt`: the check runs on entry and on every branch back.
      body.copy(module, copied, reader.offset);
      emitCheck(body, global);
      copied = reader.offset;
    } else if (CALLS.has(ins.op)) calls = true;
  }
  if (reader.offset !== end || module[end - 1] !== 0x0b) throw new RangeError('A wasm function body is malformed.');
  body.copy(module, copied, end);
  const entry = new Writer(32);
  if (calls) emitCheck(entry, global);
  out
    .u32(localsEnd - start + entry.length + body.length)
    .copy(module, start, localsEnd)
    .bytes(entry.view())
    .bytes(body.view());
}

/**
 * Returns a copy of `module` with fuel metering (see the file comment).
 * Throws `RangeError` on anything it cannot rewrite soundly.
 */
export function meterFuel(module: Uint8Array): Uint8Array {
  let importedGlobals = 0;
  let definedGlobals = 0;
  let globalEntries: Uint8Array = new Uint8Array(0);
  let exportCount = 0;
  let exportEntries: Uint8Array = new Uint8Array(0);
  for (const { id, bodyStart, bodyEnd } of sections(module)) {
    const body = new Reader(module.subarray(0, bodyEnd), bodyStart);
    if (id === SECTION.import) {
      for (let i = 0, count = body.u32(); i < count; i++) if (readImport(body).kind === KIND.global) importedGlobals++;
    } else if (id === SECTION.global) {
      definedGlobals = body.u32();
      globalEntries = module.subarray(body.offset, bodyEnd);
    } else if (id === SECTION.export) {
      exportCount = body.u32();
      exportEntries = module.subarray(body.offset, bodyEnd);
    }
  }
  const global = importedGlobals + definedGlobals;
  const globalBody = new Writer(globalEntries.length + 16)
    .u32(definedGlobals + 1)
    .bytes(globalEntries)
    .bytes([0x7e, 0x01, 0x42, ...sleb64(UNLIMITED_FUEL), 0x0b]); // (global (mut i64) (i64.const max))
  const exportBody = new Writer(exportEntries.length + 16)
    .u32(exportCount + 1)
    .bytes(exportEntries)
    .name(FUEL_EXPORT)
    .byte(KIND.global)
    .u32(global);

  const out = new Writer(module.length + 1024 * 1024).bytes(module.subarray(0, 8));
  const scratch = new Writer(64 * 1024);
  let globalWritten = false;
  let exportWritten = false;
  for (const { id, sectionStart, bodyStart, bodyEnd } of sections(module)) {
    // A section this rewrite adds goes before the first one that must follow it.
    if (!globalWritten && (id === SECTION.export || AFTER_EXPORT.has(id))) {
      out.section(SECTION.global, globalBody);
      globalWritten = true;
    }
    if (!exportWritten && AFTER_EXPORT.has(id)) {
      out.section(SECTION.export, exportBody);
      exportWritten = true;
    }
    if (id === SECTION.global) {
      out.section(id, globalBody);
      globalWritten = true;
    } else if (id === SECTION.export) {
      out.section(id, exportBody);
      exportWritten = true;
    } else if (id === SECTION.code) {
      const reader = new Reader(module.subarray(0, bodyEnd), bodyStart);
      const code = new Writer(bodyEnd - bodyStart + 1024 * 1024);
      const count = reader.u32();
      code.u32(count);
      for (let i = 0; i < count; i++) {
        const size = reader.u32();
        const start = reader.offset;
        if (start + size > bodyEnd) throw new RangeError('A wasm function runs past the code section.');
        meterFunction(module, start, start + size, global, scratch, code);
        reader.offset = start + size;
      }
      out.section(id, code);
    } else out.bytes(module.subarray(sectionStart, bodyEnd));
  }
  if (!globalWritten) out.section(SECTION.global, globalBody);
  if (!exportWritten) out.section(SECTION.export, exportBody);
  return out.view().slice();
}
