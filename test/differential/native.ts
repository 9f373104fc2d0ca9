/**
 * Host-CPU differential test, native side: runs cases on the host CPU through the native
 * runner (test/native/x86-exec.c, built by test/native/build.mjs) in batches over
 * stdin/stdout. The record layouts here mirror `struct case_in` / `struct case_out` there.
 */
import { spawnSync } from 'node:child_process';
// @ts-expect-error -- plain ESM build script without type declarations
import { buildNativeRunner } from '../native/build.mjs';
import { CODE_BASE, DATA_SIZE, MAX_CODE, type DiffCase, type Outcome } from './cases.js';

const IN_SIZE = 4 + 4 + MAX_CODE + 32 + 4 + DATA_SIZE;
const OUT_SIZE = 4 + 4 + 32 + 4 + 4 + DATA_SIZE;
const VECTOR_NONE = 0xffffffff;
const VECTOR_TIMEOUT = 0xfffffffe;
/** Cases per runner process (bounds the pipe buffers). */
const BATCH = 20000;

/** The runner's path, or why it is not available. */
export function nativeRunner(): { path?: string; error?: string } {
  return buildNativeRunner() as { path?: string; error?: string };
}

function encode(cases: readonly DiffCase[]): Buffer {
  const buf = Buffer.alloc(IN_SIZE * cases.length);
  cases.forEach((c, n) => {
    if (c.code.length > MAX_CODE) throw new Error(`case "${c.name}": code of ${c.code.length} bytes exceeds ${MAX_CODE}`);
    let at = n * IN_SIZE;
    buf.writeUInt32LE(0, at); at += 4;
    buf.writeUInt32LE(c.code.length, at); at += 4;
    buf.set(c.code, at); at += MAX_CODE;
    for (let r = 0; r < 8; r++) { buf.writeUInt32LE(c.regs[r] >>> 0, at); at += 4; }
    buf.writeUInt32LE(c.eflags >>> 0, at); at += 4;
    buf.set(c.data, at);
  });
  return buf;
}

function decode(buf: Buffer, n: number): Outcome {
  let at = n * OUT_SIZE;
  const raw = buf.readUInt32LE(at); at += 4;
  const eip = buf.readUInt32LE(at); at += 4;
  const regs: number[] = [];
  for (let r = 0; r < 8; r++) { regs.push(buf.readUInt32LE(at)); at += 4; }
  const eflags = buf.readUInt32LE(at); at += 4;
  at += 4; // error code (not compared: Linux reports its own for user-mode #GP)
  const data = new Uint8Array(buf.subarray(at, at + DATA_SIZE));
  const vector = raw === VECTOR_NONE ? -1 : raw === VECTOR_TIMEOUT ? -2 : raw;
  return { vector, eip, regs, eflags, data, scratch: [], error: vector === -2 ? 'native run timed out' : null };
}

/** Run `cases` on the host CPU; one outcome per case, in order. */
export function runNative(runnerPath: string, cases: readonly DiffCase[]): Outcome[] {
  const out: Outcome[] = [];
  for (let from = 0; from < cases.length; from += BATCH) {
    const batch = cases.slice(from, from + BATCH);
    const run = spawnSync(runnerPath, [], { input: encode(batch), maxBuffer: OUT_SIZE * batch.length + 4096 });
    if (run.error) throw new Error(`x86-exec could not run: ${run.error.message}`);
    if (run.status !== 0) throw new Error(`x86-exec exited with status ${run.status}: ${run.stderr.toString().trim()}`);
    if (run.stdout.length !== OUT_SIZE * batch.length) {
      throw new Error(`x86-exec returned ${run.stdout.length} bytes for ${batch.length} cases (want ${OUT_SIZE * batch.length})`);
    }
    for (let n = 0; n < batch.length; n++) out.push(decode(run.stdout, n));
  }
  return out;
}

/** The EIP at which a case that ran to its end stops (both sides report this). */
export function endEip(c: DiffCase): number {
  return CODE_BASE + c.code.length;
}
