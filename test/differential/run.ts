/**
 * Host-CPU differential test: generating a family's cases from a seed, running them on
 * both sides and summarising the differences. Settings come from the environment:
 * DIFF_SEED (default a fixed seed, so CI runs are reproducible), DIFF_CASES (cases per
 * family; default CI_CASES), DIFF_FAMILIES (comma-separated names to run only those),
 * DIFF_SHOW (how many differing cases to print in full per family; default 5).
 */
import { Rng, type DiffCase } from './cases.js';
import { describeFailure, differences, type DataMask } from './compare.js';
import type { EmulatorSide } from './emulator.js';
import type { Family } from './families.js';
import { runNative } from './native.js';

/** Cases per family in CI (the whole test stays well under a minute on two cores). */
export const CI_CASES = 8000;
/** The default seed. */
export const DEFAULT_SEED = 0x5eed_1234;
/** Failing cases printed in full per family. */
const SHOWN_FAILURES = Number(process.env.DIFF_SHOW ?? 5) || 5;

/** The seed, count and family filter in force. */
export function settings(): { seed: number; count: number; only: Set<string> | null } {
  const seedText = process.env.DIFF_SEED;
  const seed = seedText ? Number(seedText) >>> 0 : DEFAULT_SEED;
  if (seedText && !Number.isFinite(Number(seedText))) throw new Error(`DIFF_SEED must be a number, got "${seedText}"`);
  const countText = process.env.DIFF_CASES;
  const count = countText ? Number(countText) : CI_CASES;
  if (!Number.isInteger(count) || count <= 0) throw new Error(`DIFF_CASES must be a positive integer, got "${countText}"`);
  const only = process.env.DIFF_FAMILIES ? new Set(process.env.DIFF_FAMILIES.split(',').map((s) => s.trim())) : null;
  return { seed, count, only };
}

/** The seed of one family: the run's seed mixed with the family's name. */
export function familySeed(seed: number, name: string): number {
  let h = seed ^ 0x9e3779b9;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193);
  return h >>> 0;
}

/** What running one family found. */
export interface FamilyResult {
  summary: string;
  differences: number;
  reports: string[];
}

/** Generate `count` cases of `family`, run them natively and emulated, and compare. */
export function runFamily(family: Family, seed: number, count: number, runner: string, emu: EmulatorSide, dataMask?: DataMask): FamilyResult {
  const started = Date.now();
  const fseed = familySeed(seed, family.name);
  const rng = new Rng(fseed);
  const cases: DiffCase[] = [];
  for (let n = 0; n < count; n++) cases.push(family.generate(rng));
  const host = runNative(runner, cases);
  const reports: string[] = [];
  let diffCount = 0;
  let faults = 0;
  for (let n = 0; n < count; n++) {
    const c = cases[n];
    const mine = emu.run(c);
    if (host[n].vector >= 0) faults++;
    const d = differences(c, host[n], mine, dataMask);
    if (d.length === 0) continue;
    diffCount++;
    if (reports.length < SHOWN_FAILURES) reports.push(`#${n} ${describeFailure(c, host[n], mine, d)}`);
  }
  const ms = Date.now() - started;
  const summary = `differential ${family.name}: seed=0x${seed.toString(16)} (family 0x${fseed.toString(16)}) cases=${count} ` +
    `(${faults} raising exceptions) differences=${diffCount} time=${ms}ms`;
  return { summary, differences: diffCount, reports };
}
