/**
 * Debian's stock i386 kernel (linux-image-6.1.0-*-686, fetched by `npm run guests:debian`)
 * boots on our PC to the busybox shell of our initramfs, headless, console on ttyS0; then
 * the test types commands on the serial line and checks the answers, and powers off.
 *
 * Nothing of the platform is switched off on the command line: it is `console=ttyS0` and
 * nothing else (no noapic, nolapic, acpi=off, pci=off, clocksource or tsc overrides).
 *
 * The guest cache is filled by the test command itself (test/prepare-guests.mjs runs
 * before vitest). On a machine without Debian's package tools the lookup reports why and
 * the test is skipped with that reason — except under CI=true, where it must run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../src/cli/run.js';
import { findDebianGuest, isDebianGuestFound } from '../../src/cli/debian-guest.js';
import { CPUID_FEATURES_EDX, CpuidEdx } from '../../src/cpu/cpuid.js';
import { READY_MARKER, SHELL_PROMPT } from '../../src/firmware/initramfs/debian-initramfs.js';
import { ProcessConsole } from '../helpers/process-console.js';

const lookup = findDebianGuest();
const available = isDebianGuestFound(lookup);
const mustRun = process.env.CI === 'true';
if (!available) console.log(`Debian boot test skipped: ${lookup.skipped}`);

/** The kernel command line: the serial console and nothing that disables hardware. */
const CMDLINE = 'console=ttyS0';
/** Wall-clock limits (the boot is about 6.5 billion guest instructions: 2-4 minutes here). */
const BOOT_TIMEOUT_MS = 12 * 60_000;
const COMMAND_TIMEOUT_MS = 60_000;

/**
 * Linux's names for the CPUID.01H:EDX bits (arch/x86/include/asm/cpufeatures.h), for the
 * bits we advertise and the ones we must not appear to have.
 */
const LINUX_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [CpuidEdx.FPU, 'fpu'], [CpuidEdx.VME, 'vme'], [CpuidEdx.DE, 'de'], [CpuidEdx.PSE, 'pse'],
  [CpuidEdx.TSC, 'tsc'], [CpuidEdx.MSR, 'msr'], [CpuidEdx.PAE, 'pae'], [CpuidEdx.MCE, 'mce'],
  [CpuidEdx.CX8, 'cx8'], [CpuidEdx.APIC, 'apic'], [CpuidEdx.SEP, 'sep'], [CpuidEdx.MTRR, 'mtrr'],
  [CpuidEdx.PGE, 'pge'], [CpuidEdx.MCA, 'mca'], [CpuidEdx.CMOV, 'cmov'], [CpuidEdx.PAT, 'pat'],
  [CpuidEdx.PSE36, 'pse36'], [CpuidEdx.MMX, 'mmx'], [CpuidEdx.FXSR, 'fxsr'], [CpuidEdx.SSE, 'sse'],
];

/** What the dmesg check looks for (case-insensitive). */
const TROUBLE_WORDS = 'error|warn|fail|fatal|unable|bug|broken|unstable';

/**
 * dmesg lines matching TROUBLE_WORDS that remain, each with the reason it is expected.
 * Any other such line fails the test.
 */
const EXPLAINED_DMESG: ReadonlyArray<readonly [RegExp, string]> = [
  [/Performance Events: Broken PMU hardware detected, using software events only/, 'no P6 performance counters are modelled: their MSRs raise #GP, which is how Linux detects that'],
  [/Failed to access perfctr msr \(MSR 186 is ffffffffffffffff\)/, 'same probe as above (PerfEvtSel0, MSR 186h)'],
  [/mce: Unable to init MCE device \(rc: -5\)/, 'CPUID does not advertise MCE/MCA (QEMU prints the same line)'],
  [/acpi PNP0A03:00: fail to add MMCONFIG information, can't access extended PCI configuration space under this bridge/, 'the i440FX/PIIX3 board is conventional PCI: configuration space through CF8h/CFCh only, no PCIe MMCONFIG (QEMU\'s pc machine prints the same)'],
  [/PCI: Using host bridge windows from ACPI; if necessary, use "pci=nocrs" and report a bug/, 'informational, printed on every ACPI machine (QEMU too)'],
];

/** Field `name` of the first processor in /proc/cpuinfo. */
function cpuinfoField(cpuinfo: string, name: string): string {
  const line = cpuinfo.split('\n').find((l) => l.startsWith(`${name}\t`) || l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`/proc/cpuinfo has no '${name}' line:\n${cpuinfo}`);
  return line.slice(line.indexOf(':') + 1).trim();
}

/** Interrupt count of the /proc/interrupts row whose name column matches `label`. */
function interruptCount(table: string, label: RegExp): number {
  const row = table.split('\n').find((l) => label.test(l));
  if (row === undefined) throw new Error(`/proc/interrupts has no row matching ${label}:\n${table}`);
  const count = /^\s*\S+:\s+(\d+)/.exec(row);
  if (count === null) throw new Error(`cannot read the count of ${JSON.stringify(row)}`);
  return Number(count[1]);
}

describe.skipIf(!available && !mustRun)('Debian i386 kernel boots to a shell', () => {
  let vm: ProcessConsole;

  beforeAll(() => {
    if (!isDebianGuestFound(lookup)) throw new Error(`CI=true but the Debian guest is not available: ${lookup.skipped}`);
    const root = findPackageRoot();
    vm = new ProcessConsole(join(root, 'dist/src/cli/main.js'), [
      '-kernel', lookup.kernel, '-initrd', lookup.initrd, '-append', CMDLINE,
      '-m', '128M', '-no-reboot', '--clock=deterministic',
    ], root);
  });

  afterAll(() => vm?.kill());

  it('reaches the busybox prompt', async () => {
    await vm.waitFor(READY_MARKER, BOOT_TIMEOUT_MS);
    await vm.waitFor(SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    expect(vm.output).toContain('Linux version 6.1.0-');
    expect(vm.output).toContain('Run /init as init process');
  }, BOOT_TIMEOUT_MS + COMMAND_TIMEOUT_MS);

  it('uname -a names Debian\'s 686 kernel on an i686', async () => {
    const answer = await vm.command('uname -a', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    expect(answer).toMatch(/^Linux \S+ 6\.1\.0-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian .* i686 GNU\/Linux\n$/);
  }, COMMAND_TIMEOUT_MS);

  it('/proc/cpuinfo shows family 6 with exactly the features we advertise', async () => {
    const cpuinfo = await vm.command('cat /proc/cpuinfo', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    expect(cpuinfoField(cpuinfo, 'vendor_id')).toBe('GenuineIntel');
    expect(cpuinfoField(cpuinfo, 'cpu family')).toBe('6');
    expect(cpuinfoField(cpuinfo, 'fpu')).toBe('yes');
    const flags = new Set(cpuinfoField(cpuinfo, 'flags').split(/\s+/));
    const advertised = CPUID_FEATURES_EDX | CpuidEdx.APIC;
    for (const [bit, name] of LINUX_FLAG_NAMES) {
      expect({ name, present: flags.has(name) }).toEqual({ name, present: (advertised & bit) !== 0 });
    }
  }, COMMAND_TIMEOUT_MS);

  it('/proc/interrupts: the timer and the serial port count up through the I/O APIC', async () => {
    const first = await vm.command('cat /proc/interrupts', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    await vm.command('sleep 1', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    const second = await vm.command('cat /proc/interrupts', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    const timer = /IO-APIC\s+2-edge\s+timer/;
    const serial = /IO-APIC\s+4-edge\s+ttyS0/;
    const local = /^\s*LOC:/;
    expect(interruptCount(second, serial)).toBeGreaterThan(interruptCount(first, serial));
    // After boot Linux's tick comes from the local APIC timer (the PIT was its calibration
    // reference): at HZ=250, one second of sleep is about 250 local timer interrupts.
    const ticks = interruptCount(second, local) - interruptCount(first, local);
    expect(ticks).toBeGreaterThanOrEqual(240);
    expect(ticks).toBeLessThan(400);
    expect(interruptCount(second, timer)).toBeGreaterThan(0);
  }, 3 * COMMAND_TIMEOUT_MS);

  it('dmesg has no unexplained errors or warnings', async () => {
    const lines = (await vm.command(`dmesg | grep -i -E "${TROUBLE_WORDS}"`, SHELL_PROMPT, COMMAND_TIMEOUT_MS))
      .split('\n').filter((l) => l.trim() !== '');
    console.log(`dmesg lines matching ${TROUBLE_WORDS}:\n${lines.join('\n')}`);
    const unexplained = lines.filter((l) => !EXPLAINED_DMESG.some(([pattern]) => pattern.test(l)));
    expect(unexplained).toEqual([]);
  }, COMMAND_TIMEOUT_MS);

  it('poweroff -f turns the machine off through ACPI and the emulator exits with status 0', async () => {
    vm.type('poweroff -f');
    const end = await vm.waitForExit(COMMAND_TIMEOUT_MS);
    expect(end).toEqual({ status: 0, signal: null });
    expect(vm.output).toContain('reboot: Power down');
  }, COMMAND_TIMEOUT_MS);
});
