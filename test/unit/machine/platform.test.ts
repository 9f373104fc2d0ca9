/**
 * The PC platform as a whole, seen by small Multiboot guests on the real board
 * (src/machine/pc.ts + platform.ts): timer interrupts through the 8259 pair and through
 * the I/O APIC and local APIC, the local APIC timer, the RTC's periodic interrupt, the reset
 * and power-off paths, the A20 gate, TSC/PIT agreement, determinism of the deterministic
 * clock, and the `halted` stop reason. Each guest reports what it measured on the 0xE9
 * debug console and leaves through the debug-exit port; the guests' prelude is in
 * platform-guest.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ACPI_PM_BASE, IOAPIC_ID, ioApicPinOfIsaIrq } from '../../../src/machine/platform.js';
import type { PcMachine } from '../../../src/machine/pc.js';
import { bootGuest, reported, type GuestRun } from './platform-guest.js';

/** The 8254's input clock (Hz). */
const PIT_HZ = 1_193_182;
/** PIT divisor for 1000 Hz, as a guest computes it. */
const PIT_1KHZ_DIVISOR = Math.round(PIT_HZ / 1000);
/** Guest nanoseconds per instruction by default (a nominal 100 MIPS). */
const NS_PER_INSTRUCTION = 10;

let running: GuestRun[] = [];
function boot(...args: Parameters<typeof bootGuest>): GuestRun {
  const g = bootGuest(...args);
  running.push(g);
  return g;
}
afterEach(() => {
  for (const g of running) g.dispose();
  running = [];
});

/** `expect(stop).toEqual(exit 0)` with the guest's output in the message. */
function expectExit(g: GuestRun, stop: ReturnType<GuestRun['run']>, value = 0): void {
  expect(stop, `guest output:\n${g.lines.join('\n')}`).toEqual({ kind: 'exit', value });
}

/** Guest code: program PIT counter 0 for mode 2 (rate generator) at 1000 Hz. */
const PIT_MODE2_1KHZ = `
        mov al, 0x34                    ; counter 0, LSB then MSB, mode 2, binary
        out PIT_CMD, al
        mov al, ${PIT_1KHZ_DIVISOR} & 0xFF
        out PIT_CH0, al
        mov al, ${PIT_1KHZ_DIVISOR} >> 8
        out PIT_CH0, al
`;

/**
 * Guest code for interval measurements. `mark_start` takes the TSC before a timer is
 * programmed; each interrupt handler calls `tick`, which counts it and timestamps the first
 * and the last one; `wait_ticks` idles in `sti; hlt` until ECX interrupts have arrived,
 * counting the HLTs (`poll_ticks` instead spins reading port 80h, each read costing a
 * microsecond of guest time), then reports on the debug console
 *   ticks=<n> wakeups=<HLTs> first=0x<TSC start -> first tick> span=0x<TSC first -> last tick>
 */
const TICK_CODE = `
mark_start:
        push eax
        push edx
        rdtsc
        mov [start_tsc], eax
        mov [start_tsc + 4], edx
        pop edx
        pop eax
        ret

tick:
        push eax
        push edx
        rdtsc
        cmp dword [ticks], 0
        jne .later
        mov [first_tsc], eax
        mov [first_tsc + 4], edx
.later:
        mov [last_tsc], eax
        mov [last_tsc + 4], edx
        inc dword [ticks]
        pop edx
        pop eax
        ret

wait_ticks:
        jmp .check
.wait:
        inc dword [wakeups]
        sti
        hlt
        cli
.check:
        cmp [ticks], ecx
        jb .wait
        jmp report_ticks

poll_ticks:                             ; the same, busy-reading port 80h with IF = 1
        push eax
        sti
.poll:
        in al, 0x80
        cmp [ticks], ecx
        jb .poll
        cli
        pop eax

report_ticks:
        PRINT "ticks="
        mov eax, [ticks]
        call put_dec
        PRINT " wakeups="
        mov eax, [wakeups]
        call put_dec
        PRINT " first=0x"
        mov eax, [first_tsc]
        mov edx, [first_tsc + 4]
        sub eax, [start_tsc]
        sbb edx, [start_tsc + 4]
        call put_hex64
        PRINT " span=0x"
        mov eax, [last_tsc]
        mov edx, [last_tsc + 4]
        sub eax, [first_tsc]
        sbb edx, [first_tsc + 4]
        call put_hex64
        call newline
        ret

put_hex64:                              ; EDX:EAX as 16 hex digits
        xchg eax, edx
        call put_hex
        xchg eax, edx
        jmp put_hex
`;
const TICK_BSS = `
start_tsc:  resq 1
first_tsc:  resq 1
last_tsc:   resq 1
ticks:      resd 1
wakeups:    resd 1
`;

/** Guest-time nanoseconds of `n` PIT periods of `divisor` input clocks. */
const pitPeriodsNs = (n: number, divisor: number) => (n * divisor * 1e9) / PIT_HZ;

describe('PIT channel 0 through the 8259', () => {
  const guest = (wait: 'wait_ticks' | 'poll_ticks') => ({
    code: `
main:
        mov eax, 0x20
        mov ebx, pit_irq
        call set_gate
        call mark_start
${PIT_MODE2_1KHZ}
        mov al, 0xFE                    ; unmask IRQ 0 only
        out PIC1_DATA, al
        mov ecx, 100
        call ${wait}
        EXIT 0

pit_irq:
        call tick
        push eax
        mov al, PIC_EOI
        out PIC1_CMD, al
        pop eax
        iretd
${TICK_CODE}
`,
    bss: TICK_BSS,
  });

  it('delivers 100 interrupts at 1000 Hz to a guest idling in sti; hlt, skipping the idle time', () => {
    const g = boot(guest('wait_ticks'));
    const stop = g.run();
    expectExit(g, stop);
    expect(reported(g.lines, 'ticks')).toBe(100);
    // Every HLT was ended by exactly one timer interrupt.
    expect(reported(g.lines, 'wakeups')).toBe(100);
    const periodNs = pitPeriodsNs(1, PIT_1KHZ_DIVISOR);
    // The first interrupt within one period of programming the counter (the control word
    // itself raises OUT, so it may come at once), then one every period: the TSC (1 GHz
    // of guest time) between the first and the 100th is 99 periods, to a few microseconds.
    expect(reported(g.lines, 'first')).toBeLessThan(periodNs + 10_000);
    expect(Math.abs(reported(g.lines, 'span') - 99 * periodNs)).toBeLessThan(5_000);
    // The whole run took about 100 ms of guest time ...
    const nowNs = g.vm.clock.nowNs();
    expect(nowNs).toBeGreaterThan(99 * periodNs);
    expect(nowNs).toBeLessThan(101 * periodNs);
    // ... but only a tiny fraction of the 10 M instructions 100 ms take at 100 MIPS:
    // each HLT jumped straight to the next timer event.
    expect(g.vm.cpu.instructionCount).toBeLessThan(50_000);
    expect(g.vm.cpu.idleTicks * NS_PER_INSTRUCTION).toBeGreaterThan(0.95 * nowNs);
  });

  it('delivers the interrupts on time to a guest spinning on port reads (1 µs of guest time each)', () => {
    // The board plans each CPU run in instructions up to the next timer event; the time
    // that port I/O adds must not push the interrupt past its due time.
    const g = boot(guest('poll_ticks'));
    const stop = g.run();
    expectExit(g, stop);
    expect(reported(g.lines, 'ticks')).toBe(100);
    const periodNs = pitPeriodsNs(1, PIT_1KHZ_DIVISOR);
    expect(reported(g.lines, 'first')).toBeLessThan(periodNs + 10_000);
    const span = reported(g.lines, 'span');
    expect(span, `100 PIT interrupts spanned ${(span / 1e6).toFixed(2)} ms of guest time (TSC), expected 99 periods = ${(99 * periodNs / 1e6).toFixed(2)} ms`)
      .toBeLessThan(99 * periodNs + 100_000);
    expect(span).toBeGreaterThan(99 * periodNs - 100_000);
  });
});

describe('x87 errors with CR0.NE = 0 (PC/AT style)', () => {
  it('an unmasked divide-by-zero asserts FERR#, which raises IRQ 13; the handler clears it at port F0h', () => {
    const g = boot({
      code: `
main:
        mov eax, 0x2D                   ; IRQ 13 = slave input 5, vector 0x28 + 5
        mov ebx, fpu_irq
        call set_gate
        mov eax, cr0
        and eax, ~0x20                  ; NE = 0: errors go out on FERR#
        mov cr0, eax
        mov al, 0xFB                    ; master: cascade only
        out PIC1_DATA, al
        mov al, 0xDF                    ; slave: IRQ 13 only
        out PIC2_DATA, al
        fninit
        fldcw [control]                 ; zero-divide unmasked
        fld1
        fldz
        sti
        fdivp st1, st0                  ; 1 / 0: unmasked #Z
        fwait                           ; P6: FERR# goes out at the next waiting instruction
        mov ecx, 1000
.spin:  cmp dword [irqs], 0
        jne .done
        loop .spin
.done:  PRINT "irqs="
        mov eax, [irqs]
        call put_dec
        call newline
        EXIT 0

fpu_irq:
        push eax
        inc dword [irqs]
        xor al, al
        out 0xF0, al                    ; clear the coprocessor-error latch
        fnclex
        mov al, PIC_EOI
        out PIC2_CMD, al
        out PIC1_CMD, al
        pop eax
        iretd

control: dw 0x037B
`,
      bss: `irqs: resd 1\n`,
    });
    expectExit(g, g.run());
    expect(reported(g.lines, 'irqs')).toBe(1);
    expect(g.vm.platform.isaIrq[13].raiseCount).toBe(1);
    expect(g.vm.platform.isaIrq[13].level).toBe(false);
  });
});

describe('local APIC relocation', () => {
  it('moving IA32_APIC_BASE moves the register page inside the chipset window; the old page reads all ones', () => {
    const g = boot(`
main:
        mov ecx, 0x1B
        rdmsr
        PRINT "base=0x"
        call put_hex
        call newline
        mov eax, 0xFED00900             ; new base, BSP, enabled
        xor edx, edx
        wrmsr
        PRINT "moved=0x"
        mov eax, [0xFED00030]           ; version register at the new place
        call put_hex
        call newline
        PRINT "old=0x"
        mov eax, [0xFEE00030]
        call put_hex
        call newline
        EXIT 0
`);
    expectExit(g, g.run());
    expect(reported(g.lines, 'base')).toBe(0xfee00900);
    expect(reported(g.lines, 'moved')).toBe(0x00050014);
    expect(reported(g.lines, 'old')).toBe(0xffffffff);
  });
});

describe('realtime clock', () => {
  it('an idle guest waits in wall time: run() reports idle with the wait until the next timer event', async () => {
    const g = boot({
      code: `
main:
        mov eax, 0x20
        mov ebx, pit_irq
        call set_gate
        call mark_start
${PIT_MODE2_1KHZ}
        mov al, 0xFE
        out PIC1_DATA, al
        mov ecx, 100
        call wait_ticks
        EXIT 0

pit_irq:
        call tick
        push eax
        mov al, PIC_EOI
        out PIC1_CMD, al
        pop eax
        iretd
${TICK_CODE}
`,
      bss: TICK_BSS,
    }, { clock: { mode: 'realtime' } });
    const started = performance.now();
    let idleStops = 0;
    let stop = g.run();
    while (stop.kind === 'idle') {
      idleStops++;
      // The next PIT event is at most one 1 ms period away.
      expect(stop.waitMs).toBeGreaterThanOrEqual(0);
      expect(stop.waitMs).toBeLessThanOrEqual(1.01);
      await new Promise((done) => setTimeout(done, stop.kind === 'idle' ? stop.waitMs : 0));
      stop = g.run();
    }
    expectExit(g, stop);
    expect(reported(g.lines, 'ticks')).toBe(100);
    expect(idleStops).toBeGreaterThan(0);
    // 100 periods of a 1 kHz timer cannot pass in less than ~99 ms of wall time.
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
  });
});

describe('PIT channel 0 through the I/O APIC and the local APIC', () => {
  /**
   * The 8259s stay masked; the I/O APIC entry of `PIT_PIN` gets vector 0x31 (fixed,
   * physical, edge, active high, destination APIC ID 0). The handler checks that the local
   * APIC has the vector in service and ends it with a local APIC EOI. A local APIC timer
   * one-shot after `WATCHDOG_MS` ms (vector 0x50) ends the wait when the PIT's interrupts
   * do not arrive.
   */
  const guest = (pin: number, target: number, watchdogMs: number) => ({
    code: `
VECTOR equ 0x31
PIT_PIN equ ${pin}
main:
        mov eax, VECTOR
        mov ebx, apic_irq
        call set_gate
        mov eax, 0x50
        mov ebx, watchdog
        call set_gate
        mov dword [LAPIC_SVR], 0x1FF    ; software-enable the local APIC, spurious vector 0xFF
        mov dword [IOAPIC_SEL], 0       ; report the I/O APIC's ID and version
        mov eax, [IOAPIC_WIN]
        shr eax, 24
        PRINT "ioapic_id="
        call put_dec
        mov dword [IOAPIC_SEL], 1
        mov eax, [IOAPIC_WIN]
        PRINT " ioapic_version=0x"
        call put_hex
        call newline
        mov dword [IOAPIC_SEL], 0x10 + 2 * PIT_PIN + 1
        mov dword [IOAPIC_WIN], 0       ; destination: APIC ID 0
        mov dword [IOAPIC_SEL], 0x10 + 2 * PIT_PIN
        mov dword [IOAPIC_WIN], VECTOR  ; fixed, physical, edge, active high, unmasked
        mov dword [LAPIC_TIMER_DIVIDE], 0xB             ; divide by 1
        mov dword [LAPIC_LVT_TIMER], 0x50               ; one-shot
        mov dword [LAPIC_TIMER_INITIAL], ${watchdogMs} * 1000000
        call mark_start
${PIT_MODE2_1KHZ}
        mov ecx, ${target}
        call wait_ticks
        call report_isr
        EXIT 0

watchdog:
        PRINT "watchdog "
        mov ecx, 0                      ; wait_ticks returns at once: report the count
        call wait_ticks
        call report_isr
        EXIT 0

report_isr:
        PRINT "isr_missing="
        mov eax, [isr_missing]
        call put_dec
        call newline
        ret

apic_irq:
        call tick
        push eax
        mov eax, [LAPIC_ISR + 0x10 * (VECTOR / 32)]
        test eax, 1 << (VECTOR % 32)
        jnz .in_service
        inc dword [isr_missing]
.in_service:
        mov dword [LAPIC_EOI], 0
        pop eax
        iretd
${TICK_CODE}
`,
    bss: `${TICK_BSS}\nisr_missing: resd 1\n`,
  });

  it('routes ISA IRQ 0 to I/O APIC pin 2 with the 8259s masked: 100 interrupts at 1000 Hz', () => {
    const g = boot(guest(ioApicPinOfIsaIrq(0), 100, 1000));
    const stop = g.run();
    expectExit(g, stop);
    expect(g.lines.some((l) => l.startsWith('watchdog'))).toBe(false);
    expect(reported(g.lines, 'ioapic_id')).toBe(IOAPIC_ID);
    // 82093AA version register: version 11h, maximum redirection entry 17h.
    expect(reported(g.lines, 'ioapic_version')).toBe(0x00170011);
    expect(reported(g.lines, 'ticks')).toBe(100);
    expect(reported(g.lines, 'wakeups')).toBe(100);
    expect(reported(g.lines, 'isr_missing')).toBe(0);
    const periodNs = pitPeriodsNs(1, PIT_1KHZ_DIVISOR);
    expect(reported(g.lines, 'first')).toBeLessThan(periodNs + 10_000);
    expect(Math.abs(reported(g.lines, 'span') - 99 * periodNs)).toBeLessThan(5_000);
    expect(g.vm.cpu.instructionCount).toBeLessThan(50_000);
  });

  it('delivers no PIT interrupt through a pin other than 2 (only the watchdog ends the wait)', () => {
    const g = boot(guest(1, 100, 20));
    const stop = g.run();
    expectExit(g, stop);
    expect(g.lines.some((l) => l.startsWith('watchdog ticks=0 '))).toBe(true);
    // The PIT was running all along: its line rose about 20 times.
    expect(g.vm.platform.isaIrq[0].raiseCount).toBeGreaterThanOrEqual(19);
  });

  it('agrees with the MADT and the MP table: ISA IRQ 0 arrives on I/O APIC pin 2', () => {
    const g = boot(`main:\n        EXIT 0\n`);
    expectExit(g, g.run());
    const madt = readMadt(g.vm);
    expect(madt.ioApics).toEqual([{ id: IOAPIC_ID, address: 0xfec00000, gsiBase: 0 }]);
    const irq0 = madt.overrides.find((o) => o.bus === 0 && o.source === 0);
    expect(irq0?.gsi).toBe(ioApicPinOfIsaIrq(0));
    const mp = readMpTable(g.vm);
    expect(mp.ioApics).toEqual([{ id: IOAPIC_ID, address: 0xfec00000 }]);
    const isaBus = mp.buses.find((b) => b.type === 'ISA   ');
    expect(isaBus).toBeDefined();
    const irq0Entry = mp.interrupts.find((e) => e.type === 0 && e.bus === isaBus!.id && e.irq === 0);
    expect(irq0Entry).toEqual(expect.objectContaining({ apicId: IOAPIC_ID, pin: ioApicPinOfIsaIrq(0) }));
  });
});

describe('local APIC timer', () => {
  // Divide configuration register values (SDM §11.5.4) and the divisor each selects.
  const DIVIDES = [
    { code: 0xb, divisor: 1 },
    { code: 0x0, divisor: 2 },
    { code: 0x3, divisor: 16 },
    { code: 0xa, divisor: 128 },
  ];
  for (const { code, divisor } of DIVIDES) {
    const initial = Math.floor(1_000_000 / divisor);
    it(`periodic mode, divide by ${divisor}: 50 interrupts every ${initial} counts`, () => {
      const g = boot({
        code: `
VECTOR equ 0x41
main:
        mov eax, VECTOR
        mov ebx, timer_irq
        call set_gate
        mov dword [LAPIC_SVR], 0x1FF
        mov dword [LAPIC_TIMER_DIVIDE], 0x${code.toString(16)}
        mov dword [LAPIC_LVT_TIMER], 0x20000 | VECTOR   ; periodic, unmasked
        call mark_start
        mov dword [LAPIC_TIMER_INITIAL], ${initial}
        mov ecx, 50
        call wait_ticks
        mov eax, [LAPIC_TIMER_CURRENT]
        PRINT "current="
        call put_dec
        call newline
        EXIT 0

timer_irq:
        call tick
        mov dword [LAPIC_EOI], 0
        iretd
${TICK_CODE}
`,
        bss: TICK_BSS,
      });
      const stop = g.run();
      expectExit(g, stop);
      expect(reported(g.lines, 'ticks')).toBe(50);
      expect(reported(g.lines, 'wakeups')).toBe(50);
      // The timer counts the 1 GHz APIC clock divided by `divisor`: one period is
      // initial × divisor ns, the first one starting at the initial-count write.
      const periodNs = initial * divisor;
      expect(Math.abs(reported(g.lines, 'first') - periodNs)).toBeLessThan(5_000);
      expect(Math.abs(reported(g.lines, 'span') - 49 * periodNs)).toBeLessThan(5_000);
      const current = reported(g.lines, 'current');
      expect(current).toBeGreaterThan(0);
      expect(current).toBeLessThanOrEqual(initial);
      expect(g.vm.cpu.instructionCount).toBeLessThan(50_000);
    });
  }
});

describe('RTC periodic interrupt through the slave 8259', () => {
  // Register A rate select (RS3-0) and the rate it gives with the 32.768 kHz time base.
  const RATES = [
    { rs: 6, hz: 1024, ticks: 256 },
    { rs: 3, hz: 8192, ticks: 200 },
    { rs: 15, hz: 2, ticks: 5 },
  ];
  for (const { rs, hz, ticks } of RATES) {
    it(`RS=${rs}: ${ticks} interrupts at ${hz} Hz, register C read in the handler`, () => {
      const g = boot({
        code: `
main:
        mov dword [regc_and], 0xFF
        mov eax, 0x28                   ; IRQ 8: slave input 0
        mov ebx, rtc_irq
        call set_gate
        mov al, 0x0A                    ; register A: 32.768 kHz time base, rate
        out RTC_INDEX, al
        mov al, 0x20 | ${rs}
        out RTC_DATA, al
        mov al, 0x0C                    ; clear any stale flags
        out RTC_INDEX, al
        in al, RTC_DATA
        mov al, 0x0B                    ; register B: set PIE
        out RTC_INDEX, al
        in al, RTC_DATA
        or al, 0x40
        mov ah, al
        mov al, 0x0B
        out RTC_INDEX, al
        mov al, ah
        out RTC_DATA, al
        call mark_start
        mov al, 0xFB                    ; master: unmask the cascade (IRQ 2)
        out PIC1_DATA, al
        mov al, 0xFE                    ; slave: unmask IRQ 8
        out PIC2_DATA, al
        mov ecx, ${ticks}
        call wait_ticks
        PRINT "regc_and=0x"
        mov eax, [regc_and]
        call put_hex
        call newline
        EXIT 0

rtc_irq:
        call tick
        push eax
        mov al, 0x0C
        out RTC_INDEX, al
        in al, RTC_DATA                 ; reading C acknowledges the interrupt
        and [regc_and], al
        mov al, PIC_EOI
        out PIC2_CMD, al
        out PIC1_CMD, al
        pop eax
        iretd
${TICK_CODE}
`,
        bss: `${TICK_BSS}\nregc_and: resd 1\n`,
      });
      const stop = g.run();
      expectExit(g, stop);
      expect(reported(g.lines, 'ticks')).toBe(ticks);
      expect(reported(g.lines, 'wakeups')).toBe(ticks);
      // Every read of register C in the handler showed IRQF and PF.
      expect(reported(g.lines, 'regc_and') & 0xc0).toBe(0xc0);
      // The first tick within a period; from the first to the last, ticks - 1 periods.
      expect(reported(g.lines, 'first')).toBeLessThan(1e9 / hz + 10_000);
      expect(Math.abs(reported(g.lines, 'span') - ((ticks - 1) * 1e9) / hz)).toBeLessThan(5_000);
      expect(g.vm.cpu.instructionCount).toBeLessThan(100_000);
      expect(g.vm.platform.isaIrq[8].raiseCount).toBe(ticks);
    });
  }
});

describe('reset paths', () => {
  /** Marker address: outside the kernel image, which the board writes again on reset. */
  const MARKER = 0x300000;
  const MAGIC = 0x5eb00715;
  const METHODS = {
    'i8042 command 0xFE': `
        mov al, 0xFE                    ; pulse output port bit 0: system reset
        out KBC_CMD, al`,
    'port 92h bit 0': `
        in al, PORT_92
        and al, 0xFE
        out PORT_92, al
        or al, 0x01                     ; fast reset acts on a 0 -> 1 transition
        out PORT_92, al`,
  } as const;

  function resetGuest(method: string): string {
    return `
main:
        inc dword [${MARKER} + 4]       ; boots seen (RAM survives a reset)
        cmp dword [${MARKER}], ${MAGIC}
        je second_boot
        mov dword [${MARKER}], ${MAGIC}
        PRINTLN "first boot"
${method}
        PRINTLN "no reset"
        cli
        hlt
second_boot:
        PRINT "second boot boots="
        mov eax, [${MARKER} + 4]
        call put_dec
        call newline
        EXIT 0x22
`;
  }

  for (const [name, code] of Object.entries(METHODS)) {
    it(`${name} with onReset 'stop': run() returns reset`, () => {
      const g = boot(resetGuest(code), { onReset: 'stop' });
      const stop = g.run();
      expect(stop, g.lines.join('\n')).toEqual({ kind: 'reset' });
      expect(g.lines).toEqual(['first boot']);
      expect(g.vm.resets).toBe(0);
      expect(g.vm.memory.read32(MARKER)).toBe(MAGIC);
    });

    it(`${name} with onReset 'reset': the same kernel boots again and sees its marker`, () => {
      const g = boot(resetGuest(code), { onReset: 'reset' });
      const stop = g.run();
      expectExit(g, stop, 0x22);
      expect(g.lines).toEqual(['first boot', 'second boot boots=2']);
      expect(g.vm.resets).toBe(1);
    });
  }
});

describe('ACPI power-off', () => {
  /** Guest: find PM1a_CNT through RSDP -> RSDT -> FADT and write SLP_TYP | SLP_EN. */
  function powerOffGuest(sleepType: number): string {
    return `
main:
        mov esi, 0xE0000                ; ACPI §5.2.5.1: RSDP on a 16-byte boundary in E0000h-FFFFFh
.scan:
        cmp dword [esi], 'RSD '
        jne .next
        cmp dword [esi + 4], 'PTR '
        je .found
.next:
        add esi, 16
        cmp esi, 0x100000
        jb .scan
        PRINTLN "no RSDP"
        EXIT 1
.found:
        mov ebx, [esi + 16]             ; RsdtAddress
        mov ecx, [ebx + 4]              ; length
        sub ecx, 36
        shr ecx, 2                      ; number of table pointers
        lea edi, [ebx + 36]
.entry:
        mov edx, [edi]
        cmp dword [edx], 'FACP'
        je .fadt
        add edi, 4
        loop .entry
        PRINTLN "no FADT"
        EXIT 2
.fadt:
        mov edx, [edx + 64]             ; PM1a_CNT_BLK
        PRINT "pm1a_cnt=0x"
        mov eax, edx
        call put_hex
        call newline
        mov ax, (${sleepType} << 10) | (1 << 13)   ; SLP_TYP, SLP_EN
        out dx, ax
        PRINTLN "still running"
        EXIT 3
`;
  }

  it('SLP_TYP=5 | SLP_EN to the FADT\'s PM1a_CNT powers the machine off', () => {
    const g = boot(powerOffGuest(5));
    const stop = g.run();
    expect(stop, g.lines.join('\n')).toEqual({ kind: 'power-off' });
    expect(reported(g.lines, 'pm1a_cnt')).toBe(ACPI_PM_BASE + 4);
    expect(g.lines).not.toContain('still running');
  });

  it('a sleep type other than S5 does not power off', () => {
    const g = boot(powerOffGuest(1));
    expectExit(g, g.run(), 3);
    expect(g.lines).toContain('still running');
  });
});

describe('A20 gate', () => {
  it('address 1 MiB aliases 0 exactly while both the i8042 output port and port 92h have A20 off', () => {
    const g = boot({
      code: `
LOW  equ 0x7000
HIGH equ 0x107000

; probe: write LOW then HIGH, report what LOW reads. ESI = step name.
probe:
        add dword [stamp], 1
        mov eax, [stamp]
        or eax, 0xAAAA0000
        mov [LOW], eax
        xor eax, 0x11110000             ; 0xBBBBxxxx
        mov [HIGH], eax
        call puts
        PRINT " low=0x"
        mov eax, [LOW]
        call put_hex
        call newline
        ret

kbc_wait_input:                         ; wait until the controller takes a byte
        push eax
.busy:
        in al, KBC_CMD
        test al, 2
        jnz .busy
        pop eax
        ret

; kbc_write_output_port: AL = new output port value
kbc_write_output_port:
        push eax
        call kbc_wait_input
        mov al, 0xD1
        out KBC_CMD, al
        call kbc_wait_input
        pop eax
        out KBC_DATA, al
        ret

; kbc_read_output_port: AL = output port
kbc_read_output_port:
        call kbc_wait_input
        mov al, 0xD0
        out KBC_CMD, al
.full:
        in al, KBC_CMD
        test al, 1
        jz .full
        in al, KBC_DATA
        ret

main:
.flush:                                 ; empty the output buffer first
        in al, KBC_CMD
        test al, 1
        jz .flushed
        in al, KBC_DATA
        jmp .flush
.flushed:
        mov esi, s_boot
        call probe
        mov al, 0xCD                    ; output port: A20 off, not in reset
        call kbc_write_output_port
        call kbc_read_output_port
        PRINT "outport=0x"
        movzx eax, al
        call put_hex
        call newline
        mov esi, s_kbc_off
        call probe
        in al, PORT_92
        or al, 0x02
        out PORT_92, al
        mov esi, s_p92_on
        call probe
        in al, PORT_92
        and al, ~0x02
        out PORT_92, al
        mov esi, s_p92_off
        call probe
        mov al, 0xCF                    ; output port: A20 on
        call kbc_write_output_port
        mov esi, s_kbc_on
        call probe
        EXIT 0

s_boot:    db "boot", 0
s_kbc_off: db "kbc-off", 0
s_p92_on:  db "p92-on", 0
s_p92_off: db "p92-off", 0
s_kbc_on:  db "kbc-on", 0
`,
      bss: 'stamp: resd 1',
    });
    const stop = g.run();
    expectExit(g, stop);
    expect(g.lines).toEqual([
      'boot low=0xAAAA0001', // power-on: A20 enabled by the i8042 output port
      'outport=0x000000CD',
      'kbc-off low=0xBBBB0002', // both off: the write to 1 MiB + x landed at x
      'p92-on low=0xAAAA0003',
      'p92-off low=0xBBBB0004',
      'kbc-on low=0xAAAA0005',
    ]);
  });
});

describe('TSC against the PIT', () => {
  /** Linux's CAL_LATCH: PIT input clocks in 50 ms. */
  const CAL_LATCH = Math.floor(PIT_HZ / (1000 / 50));
  for (const nsPerInstruction of [10, 7, 1]) {
    it(`pit_calibrate_tsc-style measurement gives a 1 GHz TSC (${nsPerInstruction} ns per instruction)`, () => {
      const g = boot(`
main:
        in al, PORT_B                   ; counter 2 gate on, speaker off
        and al, ~0x02
        or al, 0x01
        out PORT_B, al
        mov al, 0xB0                    ; counter 2, LSB then MSB, mode 0, binary
        out PIT_CMD, al
        mov al, ${CAL_LATCH} & 0xFF
        out PIT_CH2, al
        mov al, ${CAL_LATCH} >> 8
        out PIT_CH2, al
        rdtsc
        mov esi, eax
        mov edi, edx
        xor ecx, ecx
.poll:                                  ; until OUT2 (port 61h bit 5) goes high
        inc ecx
        rdtsc
        mov ebx, eax
        mov ebp, edx
        in al, PORT_B
        test al, 0x20
        jz .poll
        mov eax, ebx
        sub eax, esi
        sbb ebp, edi
        PRINT "polls="
        xchg eax, ecx
        call put_dec
        PRINT " tsc=0x"
        mov eax, ebp
        call put_hex
        mov eax, ecx
        call put_hex
        call newline
        EXIT 0
`, { clock: { nsPerInstruction } });
      const stop = g.run();
      expectExit(g, stop);
      expect(reported(g.lines, 'polls')).toBeGreaterThan(1000);
      const tscHz = reported(g.lines, 'tsc') / (CAL_LATCH / PIT_HZ);
      expect(Math.abs(tscHz - 1e9) / 1e9).toBeLessThan(0.001);
    });
  }
});

describe('determinism', () => {
  /**
   * Three timers (PIT through the 8259, local APIC timer, RTC) interrupt a busy loop that
   * also halts now and then; every handler mixes the busy counter into a hash, so the
   * output depends on exactly where each interrupt landed. Output on COM1 and 0xE9.
   */
  const GUEST = {
    code: `
main:
        mov eax, 0x20
        mov ebx, pit_irq
        call set_gate
        mov eax, 0x28
        mov ebx, rtc_irq
        call set_gate
        mov eax, 0x42
        mov ebx, lapic_irq
        call set_gate
        mov dword [LAPIC_SVR], 0x1FF
        mov dword [LAPIC_TIMER_DIVIDE], 0xB
        mov dword [LAPIC_LVT_TIMER], 0x20042
        mov dword [LAPIC_TIMER_INITIAL], 333_333
        mov al, 0x0A
        out RTC_INDEX, al
        mov al, 0x27                    ; 512 Hz
        out RTC_DATA, al
        mov al, 0x0B
        out RTC_INDEX, al
        mov al, 0x42                    ; PIE, 24-hour
        out RTC_DATA, al
${PIT_MODE2_1KHZ}
        mov al, 0xFA                    ; IRQ 0 and the cascade
        out PIC1_DATA, al
        mov al, 0xFE                    ; IRQ 8
        out PIC2_DATA, al
        sti
.busy:
        inc dword [busy]
        mov eax, [busy]
        imul eax, eax, 2654435761
        xor [scratch], eax
        test dword [busy], 0x3F         ; halt once every 64 rounds
        jnz .no_halt
        hlt
.no_halt:
        cmp dword [pit_ticks], 200
        jb .busy
        cli
        PRINT "pit="
        mov eax, [pit_ticks]
        call put_dec
        PRINT " lapic="
        mov eax, [lapic_ticks]
        call put_dec
        PRINT " rtc="
        mov eax, [rtc_ticks]
        call put_dec
        PRINT " busy="
        mov eax, [busy]
        call put_dec
        PRINT " hash=0x"
        mov eax, [hash]
        call put_hex
        call newline
        mov eax, [hash]                 ; the hash on COM1 too, as 4 raw bytes
        mov ecx, 4
.serial:
        mov dx, COM1 + 5
.thre:
        push eax
        in al, dx
        test al, 0x20
        pop eax
        jz .thre
        mov dx, COM1
        out dx, al
        shr eax, 8
        loop .serial
        EXIT 0

; mix: hash = (hash rotl 5) ^ busy ^ tag (AL = tag). Clobbers nothing.
mix:
        push ebx
        mov ebx, [hash]
        rol ebx, 5
        xor ebx, [busy]
        xor bl, al
        mov [hash], ebx
        pop ebx
        ret

pit_irq:
        push eax
        inc dword [pit_ticks]
        mov al, 1
        call mix
        mov al, PIC_EOI
        out PIC1_CMD, al
        pop eax
        iretd

rtc_irq:
        push eax
        inc dword [rtc_ticks]
        mov al, 0x0C
        out RTC_INDEX, al
        in al, RTC_DATA
        mov al, 2
        call mix
        mov al, PIC_EOI
        out PIC2_CMD, al
        out PIC1_CMD, al
        pop eax
        iretd

lapic_irq:
        push eax
        inc dword [lapic_ticks]
        mov al, 3
        call mix
        mov dword [LAPIC_EOI], 0
        pop eax
        iretd

`,
    bss: `
busy:        resd 1
scratch:     resd 1
hash:        resd 1
pit_ticks:   resd 1
rtc_ticks:   resd 1
lapic_ticks: resd 1
`,
  };

  /** Run the guest to its end, in one run() call or in calls of `chunk` instructions. */
  function runOnce(chunk = Infinity) {
    const g = boot(GUEST);
    let stop = g.run(Math.min(chunk, 1_000_000_000));
    while (stop.kind === 'limit' && g.vm.clock.ticks() < 1_000_000_000) stop = g.run(chunk);
    return {
      stop,
      lines: [...g.lines],
      serial: g.serial(),
      instructions: g.vm.cpu.instructionCount,
      idleTicks: g.vm.cpu.idleTicks,
      nowNs: g.vm.clock.nowNs(),
      cpu: g.vm.cpu.save(),
    };
  }

  it('the same guest run twice gives identical instruction counts, idle ticks and output', () => {
    const a = runOnce();
    expect(a.stop, a.lines.join('\n')).toEqual({ kind: 'exit', value: 0 });
    // The guest ran about 200 ms with all three timers interrupting it, each at its rate.
    expect(reported(a.lines, 'pit')).toBe(200);
    expect(a.nowNs).toBeGreaterThan(198e6);
    expect(a.nowNs).toBeLessThan(202e6);
    expect(Math.abs(reported(a.lines, 'lapic') - a.nowNs / 333_333)).toBeLessThanOrEqual(2);
    expect(Math.abs(reported(a.lines, 'rtc') - (a.nowNs * 512) / 1e9)).toBeLessThanOrEqual(2);
    expect(reported(a.lines, 'busy')).toBeGreaterThan(1000);
    expect(a.idleTicks).toBeGreaterThan(0);
    expect(a.serial.length).toBe(4);
    const b = runOnce();
    expect(b).toEqual(a);
  });

  it('the outcome does not depend on how the caller splits the run into run(n) calls', () => {
    // A scheduler time-slicing VMs (or a snapshot taken between two calls) must not change
    // what the guest sees: the timers are due at guest times, not at call boundaries.
    const whole = runOnce();
    for (const chunk of [5000, 37, 3, 1]) {
      const split = runOnce(chunk);
      expect(split, `the guest's outcome changed when run() was called in chunks of ${chunk} instructions`).toEqual(whole);
    }
  });
});

describe('halted stop reason', () => {
  it('cli; hlt stops with halted', () => {
    const g = boot(`main:\n        PRINTLN "halting"\n        cli\n        hlt\n        EXIT 1\n`);
    expect(g.run()).toEqual({ kind: 'halted' });
    expect(g.lines).toEqual(['halting']);
    expect(g.vm.cpu.instructionCount).toBeLessThan(10_000);
  });

  it('sti; hlt with no timer programmed stops with halted instead of idling forever', () => {
    const g = boot(`main:\n        PRINTLN "halting"\n        sti\n        hlt\n        EXIT 1\n`);
    expect(g.run()).toEqual({ kind: 'halted' });
    expect(g.lines).toEqual(['halting']);
    expect(g.vm.clock.nextEventNs()).toBe(Infinity);
  });

  it('sti; hlt with the PIT running but its interrupt masked everywhere returns from run(limit)', () => {
    // Nothing can wake this CPU: IRQ 0 is masked at the 8259 (and the I/O APIC entries are
    // masked since power-on), yet the PIT keeps producing events. run() must still come
    // back — with 'halted', or with 'limit' once the instruction budget is used up.
    const g = boot(`
main:
${PIT_MODE2_1KHZ}
        PRINTLN "halting"
        sti
        hlt
        EXIT 1
`);
    // Guard against a run() that never returns: stop it from inside the PIT after 60 s of
    // guest time (60 000 timer events), far more than the 100 000-instruction budget allows.
    const pit = g.vm.platform.pit;
    const advanceTo = pit.advanceTo.bind(pit);
    pit.advanceTo = (nowNs: number) => {
      if (nowNs > 60e9) {
        throw new Error(`run(100000) still idling after ${(nowNs / 1e9).toFixed(1)} s of guest time and ${g.vm.cpu.instructionCount} instructions: the board keeps skipping HLT to the next (masked) PIT event and never reaches the instruction budget`);
      }
      advanceTo(nowNs);
    };
    const stop = g.run(100_000);
    expect(['halted', 'limit']).toContain(stop.kind);
    expect(g.lines).toEqual(['halting']);
  });
});

// ---- platform tables, read from guest memory ----

interface MadtInfo {
  ioApics: { id: number; address: number; gsiBase: number }[];
  overrides: { bus: number; source: number; gsi: number; flags: number }[];
}

function ascii(vm: PcMachine, address: number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCharCode(vm.memory.read8(address + i));
  return s;
}

/** The MADT's I/O APIC and interrupt source override entries (ACPI 6.4 §5.2.12). */
function readMadt(vm: PcMachine): MadtInfo {
  let rsdp = -1;
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    if (ascii(vm, a, 8) === 'RSD PTR ') { rsdp = a; break; }
  }
  if (rsdp < 0) throw new Error('no RSDP in E0000h-FFFFFh');
  const rsdt = vm.memory.read32(rsdp + 16);
  const count = (vm.memory.read32(rsdt + 4) - 36) / 4;
  for (let i = 0; i < count; i++) {
    const table = vm.memory.read32(rsdt + 36 + 4 * i);
    if (ascii(vm, table, 4) !== 'APIC') continue;
    const end = table + vm.memory.read32(table + 4);
    const info: MadtInfo = { ioApics: [], overrides: [] };
    for (let e = table + 44; e < end; e += vm.memory.read8(e + 1)) {
      const type = vm.memory.read8(e);
      if (type === 1) info.ioApics.push({ id: vm.memory.read8(e + 2), address: vm.memory.read32(e + 4) >>> 0, gsiBase: vm.memory.read32(e + 8) });
      if (type === 2) info.overrides.push({ bus: vm.memory.read8(e + 2), source: vm.memory.read8(e + 3), gsi: vm.memory.read32(e + 4), flags: vm.memory.read16(e + 8) });
    }
    return info;
  }
  throw new Error('no MADT in the RSDT');
}

interface MpInfo {
  ioApics: { id: number; address: number }[];
  buses: { id: number; type: string }[];
  interrupts: { type: number; bus: number; irq: number; apicId: number; pin: number }[];
}

/** The MP configuration table's bus, I/O APIC and I/O interrupt entries (MP spec 1.4 §4). */
function readMpTable(vm: PcMachine): MpInfo {
  const ebda = vm.memory.read16(0x40e) << 4;
  const ranges = [[ebda, ebda + 1024], [0x9fc00, 0xa0000], [0xf0000, 0x100000]];
  let floating = -1;
  for (const [from, to] of ranges) {
    for (let a = from; a < to && floating < 0; a += 16) if (ascii(vm, a, 4) === '_MP_') floating = a;
    if (floating >= 0) break;
  }
  if (floating < 0) throw new Error('no MP floating pointer');
  const config = vm.memory.read32(floating + 4);
  if (ascii(vm, config, 4) !== 'PCMP') throw new Error('MP configuration table signature missing');
  const entries = vm.memory.read16(config + 34);
  const info: MpInfo = { ioApics: [], buses: [], interrupts: [] };
  let e = config + 44;
  for (let n = 0; n < entries; n++) {
    const type = vm.memory.read8(e);
    if (type === 0) { e += 20; continue; }
    if (type === 1) info.buses.push({ id: vm.memory.read8(e + 1), type: ascii(vm, e + 2, 6) });
    if (type === 2) info.ioApics.push({ id: vm.memory.read8(e + 1), address: vm.memory.read32(e + 4) >>> 0 });
    if (type === 3) info.interrupts.push({ type: vm.memory.read8(e + 1), bus: vm.memory.read8(e + 4), irq: vm.memory.read8(e + 5), apicId: vm.memory.read8(e + 6), pin: vm.memory.read8(e + 7) });
    e += 8;
  }
  return info;
}
