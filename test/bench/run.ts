/**
 * `npm run bench`: CPU speed of the interpreter, in real mode and in protected mode.
 *
 * Runs our CPU-bound benchmark guest (guests/bench: a sieve of Eratosthenes plus a 32-bit
 * checksum over the sieve, hundreds of millions of instructions) from the reset vector to
 * its debug-port exit, and prints instructions, seconds and MIPS. In the same run it times
 * a baseline: the same algorithm written directly in JavaScript, so the ratio shows what
 * emulation costs on this machine today. A few micro-loops show the per-instruction cost
 * of common instruction mixes. `--profile` adds a sampled profile of the guest run (self
 * time per function), `--repeat N` runs the guest N times and reports the median.
 *
 * The same algorithm also runs as 32-bit protected-mode code (guests/bench/bench32.asm):
 * once with flat segments and paging off, once through 4 KiB pages. Their MIPS are
 * printed beside the real-mode figure with the ratio paged/unpaged and the acceptance
 * target (paged at least 70 % of unpaged), judged from the measurements of this run.
 *
 * Then the memory kernels (test/bench/kernels.ts, delta rows from test/bench/delta.ts): WASM vs
 * TS GB/s and their targets.
 * `--only kernels` runs just that section.
 *
 * Then page sharing (test/bench/sharing.ts): 8 VMs from one image, memory saved and scanner
 * cost. `--only sharing` runs just that section. `--only sharing-debian` (not part of the
 * default run: it boots 8 Debian kernels, about 10 minutes) does the same with Debian guests.
 *
 * Then virtio throughput (test/bench/virtio-debian.ts): two Debian guests, disk MB/s with
 * sequential 1 MiB reads and writes, network MB/s between the guests, each beside a host
 * baseline. `--only virtio` runs just that section; skipped (not failed)
 * in the default run when the Debian guest is not cached.
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { resolve } from 'node:path';
import { Host } from '../../src/vmm/host.js';
import { packageRoot } from './package-root.js';
import { printKernelTable, runFrameKernelBench } from './kernels.js';
import { runDeltaKernelBench } from './delta.js';
import { runSharingBench } from './sharing.js';
import { DEFAULT_DEBIAN_TICKS, runDebianSharingBench } from './sharing-debian.js';
import { runVirtioBench } from './virtio-debian.js';

const root = packageRoot(import.meta.url);
const TARGET_MIPS = 80;
/** Acceptance target: the paged protected-mode guest runs at least this share of the flat one. */
const TARGET_PAGED_RATIO = 0.7;


interface GuestRun { instructions: number; seconds: number; serial: string; exit: string }

/** Boot a ROM and run it to its exit. */
function runGuest(rom: Uint8Array, entry?: { cs: number; ip: number }, loads: { name: string; address: number; data: Uint8Array }[] = [], limit = Infinity): GuestRun {
  const host = new Host({ maxFrames: 8192 });
  let serial = '';
  const vm = host.createMachine('bench', {
    memoryBytes: 16 << 20, rom: { name: 'bench.bin', data: rom }, entry, loads,
    serialOut: (b) => { serial += String.fromCharCode(b); },
  });
  try {
    const t0 = performance.now();
    const stop = vm.run(limit);
    const seconds = (performance.now() - t0) / 1000;
    return { instructions: vm.cpu.instructionCount, seconds, serial, exit: JSON.stringify(stop) };
  } finally {
    host.destroyMachine('bench');
  }
}

interface ModeResult { label: string; mips: number | null; line: string; ok: boolean }

/**
 * Run one protected-mode benchmark image `repeat` times; a guest that throws, exits
 * non-zero or prints a different checksum counts as failed (its MIPS are not reported).
 */
function runProtectedMode(label: string, image: string, checksum: string | undefined, repeat: number): ModeResult {
  const rom = new Uint8Array(readFileSync(resolve(root, image)));
  const runs: GuestRun[] = [];
  try {
    for (let k = 0; k < repeat; k++) runs.push(runGuest(rom));
  } catch (error) {
    return { label, mips: null, line: `did not run: ${(error as Error).message}`, ok: false };
  }
  const r = runs[0];
  const output = r.serial.split(/\r?\n/).filter((l) => l.startsWith('bench32:')).join(' ') || '(no result line)';
  const sameChecksum = checksum !== undefined && output.includes(`primes=6179 checksum=${checksum}`);
  if (!r.exit.includes('"value":0') || !sameChecksum) {
    return { label, mips: null, line: `FAILED: ${output}; exit ${r.exit}${sameChecksum ? '' : ' (checksum differs from the real-mode guest)'}`, ok: false };
  }
  const mips = median(runs.map((x) => x.instructions / x.seconds / 1e6));
  return { label, mips, line: `${output}; ${r.instructions} instructions`, ok: true };
}

/** Print the protected-mode section; returns false when a guest failed or the target is missed. */
function protectedModeSection(realMips: number, checksum: string | undefined, repeat: number): boolean {
  console.log('Protected mode: the same algorithm as 32-bit code (guests/bench/bench32.asm), same run');
  const flat = runProtectedMode('flat, unpaged', 'guests/bench/bench32-flat.bin', checksum, repeat);
  const paged = runProtectedMode('paged (4 KiB)', 'guests/bench/bench32-paged.bin', checksum, repeat);
  console.log(`  real mode           ${realMips.toFixed(1).padStart(7)} MIPS`);
  for (const m of [flat, paged]) {
    const figure = m.mips === null ? '      -' : m.mips.toFixed(1).padStart(7);
    console.log(`  ${m.label.padEnd(19)} ${figure} MIPS   ${m.line}`);
  }
  if (flat.mips === null || paged.mips === null) {
    console.log(`  paged / unpaged     -   target >= ${TARGET_PAGED_RATIO * 100} %: NOT met (a protected-mode guest did not complete)`);
    return false;
  }
  const ratio = paged.mips / flat.mips;
  const met = ratio >= TARGET_PAGED_RATIO;
  console.log(`  paged / unpaged     ${(ratio * 100).toFixed(1)} %   target >= ${TARGET_PAGED_RATIO * 100} %: ${met ? 'met' : 'NOT met'}`);
  return met;
}

/** The benchmark guest's algorithm in plain JavaScript (the same sizes, passes and checksum). */
function nativeBaseline(repeats: number): { seconds: number; primes: number; checksum: number } {
  const SIZE = 61440, BLOCK = 16, SEED = 0x12345678, SALT = 0x9e3779b9 | 0;
  const sieve = new Uint8Array(SIZE);
  const words = new Int32Array(sieve.buffer);
  let checksum = SEED, primes = 0;
  const t0 = performance.now();
  for (let pass = 0; pass < repeats; pass++) {
    sieve.fill(0);
    sieve[0] = 1; sieve[1] = 1;
    for (let p = 2; p * p < SIZE; p++) {
      if (sieve[p] !== 0) continue;
      for (let m = p * p; m < SIZE; m += p) sieve[m] = 1;
    }
    primes = 0;
    for (let k = 0; k < SIZE; k++) if (sieve[k] === 0) primes++;
    for (let si = 0; si < SIZE; si += 4) {
      const eax = words[si >> 2] ^ checksum;
      let edx = ((checksum << 5) | (checksum >>> 27)) + eax;
      const low = (edx & 0xffff) + si;
      edx = (edx & ~0xffff) | (low & 0xffff);
      if (low > 0xffff) edx ^= SALT;
      words[si >> 2] = eax;
      checksum = edx | 0;
    }
    void BLOCK;
  }
  return { seconds: (performance.now() - t0) / 1000, primes, checksum: checksum >>> 0 };
}

/** A micro-loop: `body; dec cx; jnz top; jmp top` at 0000:7C00, timed over `count` instructions. */
function microLoop(name: string, body: number[], count: number): string {
  const len = body.length + 3;
  const code = new Uint8Array([...body, 0x49, 0x75, (-len) & 0xff, 0xeb, (-(len + 2)) & 0xff]);
  const rom = new Uint8Array(4096);
  runGuest(rom, { cs: 0, ip: 0x7c00 }, [{ name, address: 0x7c00, data: code }], count / 10); // warm-up
  const r = runGuest(rom, { cs: 0, ip: 0x7c00 }, [{ name, address: 0x7c00, data: code }], count);
  return `  ${name.padEnd(34)} ${(r.instructions / r.seconds / 1e6).toFixed(1).padStart(7)} MIPS`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Sample the CPU profile of `fn` and print self time per function. */
async function profiled(fn: () => void): Promise<void> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<any>((ok, fail) =>
    session.post(method, params ?? {}, (err, res) => (err ? fail(err) : ok(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  fn();
  const { profile } = await post('Profiler.stop');
  session.disconnect();
  const self = new Map<string, number>();
  const byId = new Map<number, any>(profile.nodes.map((n: any) => [n.id, n]));
  profile.samples.forEach((id: number, k: number) => {
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[k] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log('Profile of the guest run (self time; handlers inlined into dispatch/runBlocks count there):');
  for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const repeat = Number(args[args.indexOf('--repeat') + 1]) || 1;
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  if (only === 'sharing') {
    if (!runSharingBench()) process.exitCode = 1;
    return;
  }
  if (only === 'kernels') {
    if (!kernelSection()) process.exitCode = 1;
    return;
  }
  if (only === 'sharing-debian') {
    const ticks = args.includes('--debian-instructions') ? Number(args[args.indexOf('--debian-instructions') + 1]) : DEFAULT_DEBIAN_TICKS;
    if (!runDebianSharingBench(ticks)) process.exitCode = 1;
    return;
  }
  if (only === 'virtio') {
    if ((await runVirtioBench()) !== 'measured') process.exitCode = 1;
    return;
  }
  const rom = new Uint8Array(readFileSync(resolve(root, 'guests/bench/bench.bin')));
  console.log('x86 real-mode CPU benchmark (guests/bench/bench.bin)');
  const runs: GuestRun[] = [];
  for (let k = 0; k < repeat; k++) runs.push(runGuest(rom));
  const r = runs[0];
  const expected = /primes=6179 checksum=([0-9A-F]{8})/.exec(r.serial);
  const mips = median(runs.map((x) => x.instructions / x.seconds / 1e6));
  const seconds = median(runs.map((x) => x.seconds));
  console.log(`  guest output        ${r.serial.trim()}`);
  console.log(`  exit                ${r.exit}`);
  console.log(`  instructions        ${r.instructions}`);
  console.log(`  seconds (median)    ${seconds.toFixed(3)}  over ${repeat} run(s)`);
  console.log(`  MIPS (median)       ${mips.toFixed(1)}   target >= ${TARGET_MIPS}: ${mips >= TARGET_MIPS ? 'met' : 'NOT met'}`);
  const repeats = Number(/repeats=(\d+)/.exec(r.serial)?.[1] ?? 400);
  const base = nativeBaseline(repeats);
  const agree = expected !== null && parseInt(expected[1], 16) === base.checksum && base.primes === 6179;
  console.log(`Baseline: the same algorithm as native JavaScript, same run`);
  console.log(`  seconds             ${base.seconds.toFixed(3)}  (checksum ${base.checksum.toString(16).toUpperCase()}, ${agree ? 'matches the guest' : 'DIFFERS from the guest'})`);
  console.log(`  emulated / native   ${(seconds / base.seconds).toFixed(1)}x slower`);
  const protectedOk = protectedModeSection(mips, expected?.[1], repeat);
  console.log('Micro-loops (body; dec cx; jnz):');
  const n = 30_000_000;
  console.log(microLoop('dec cx; jnz (2 instructions)', [], n));
  console.log(microLoop('3x add ax,bx', [0x01, 0xd8, 0x01, 0xd8, 0x01, 0xd8], n));
  console.log(microLoop('mov [di],al; inc di; and di,0FFFh', [0x88, 0x05, 0x47, 0x81, 0xe7, 0xff, 0x0f], n));
  console.log(microLoop('mov al,[di]; add bl,al', [0x8a, 0x05, 0x00, 0xc3], n));
  console.log(microLoop('66 add eax,ebx; 66 rol edx,5', [0x66, 0x01, 0xd8, 0x66, 0xc1, 0xc2, 0x05], n));
  console.log(microLoop('8x nop', [0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90], n));
  if (args.includes('--profile')) await profiled(() => runGuest(rom));
  const kernelsOk = kernelSection();
  const sharingOk = runSharingBench();
  // Without the Debian guest the section is skipped (printed), not failed.
  const virtioOk = (await runVirtioBench()) !== 'failed';
  if (!virtioOk || !agree || !r.exit.includes('"value":0') || !protectedOk || !kernelsOk || !sharingOk) process.exitCode = 1;
}

/** The memory-kernel section (test/bench/kernels.ts); returns whether its targets were met. */
function kernelSection(): boolean {
  runFrameKernelBench();
  runDeltaKernelBench();
  return printKernelTable();
}

await main();
