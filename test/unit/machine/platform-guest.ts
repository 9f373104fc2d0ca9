/**
 * Test helper for the board-level platform tests: wraps a small piece of 32-bit NASM code
 * into a Multiboot v1 kernel (a.out kludge: a flat image loaded at 2 MiB), boots it on a
 * PcMachine through the board's direct-boot path (`PcConfig.kernel`) and collects what the
 * guest reports on the 0xE9 debug console and COM1.
 *
 * The prelude the guest code runs after:
 * - its own GDT (0x08 flat code, 0x10 flat data) and an IDT whose 256 gates all lead to a
 *   stub that prints "unexpected vector XX" and exits with UNEXPECTED_VECTOR_EXIT, so a
 *   stray interrupt or exception fails a test with a clear message;
 * - ESP at the top of a 16 KiB stack in the image's bss; interrupts off (IF = 0);
 *   the guest's variables (`bss`) are zero, in their own page;
 * - the 8259 pair initialised (ICW1-4: master vectors 0x20-0x27, slave 0x28-0x2F, cascade
 *   on IRQ 2, 8086 mode) with every input masked.
 * Then it jumps to `main`, which the test's code must define.
 *
 * Helpers the code may call (all preserve every register but the documented outputs):
 *   set_gate      EAX = vector, EBX = handler address: a 32-bit interrupt gate, DPL 0
 *   puts          ESI = NUL-terminated string, to the debug console
 *   put_hex       EAX as 8 hex digits          put_dec   EAX in decimal
 *   newline       ends the debug-console line
 *   exit_with     AL = value written to the debug-exit port (does not return)
 * Macros: PRINT "text" (no newline), PRINTLN "text", EXIT value, and the port / MMIO
 * constants below.
 *
 * Everything (code, data, stack) lies in [2 MiB, 3 MiB): address bit 20 is clear, so the
 * guest keeps running while it turns the A20 gate off.
 */
import { assemble } from '../../helpers/nasm.js';
import { Host } from '../../../src/vmm/host.js';
import type { PcConfig, PcMachine, StopReason } from '../../../src/machine/pc.js';

/** Where the kernel image is loaded. */
export const LOAD_BASE = 0x200000;
/** Exit value of the unexpected-vector stub. */
export const UNEXPECTED_VECTOR_EXIT = 0xee;
/** Guest RAM of the test machines. */
export const RAM_BYTES = 16 << 20;

const PRELUDE = `
bits 32
org 0x${LOAD_BASE.toString(16)}

DEBUGCON        equ 0xE9
DEBUG_EXIT      equ 0xF4
PIC1_CMD        equ 0x20
PIC1_DATA       equ 0x21
PIC2_CMD        equ 0xA0
PIC2_DATA       equ 0xA1
PIC_EOI         equ 0x20
PIT_CH0         equ 0x40
PIT_CH2         equ 0x42
PIT_CMD         equ 0x43
PORT_B          equ 0x61
KBC_DATA        equ 0x60
KBC_CMD         equ 0x64
RTC_INDEX       equ 0x70
RTC_DATA        equ 0x71
PORT_92         equ 0x92
COM1            equ 0x3F8
LAPIC           equ 0xFEE00000
LAPIC_EOI       equ LAPIC + 0x0B0
LAPIC_SVR       equ LAPIC + 0x0F0
LAPIC_ISR       equ LAPIC + 0x100
LAPIC_LVT_TIMER equ LAPIC + 0x320
LAPIC_LVT_LINT0 equ LAPIC + 0x350
LAPIC_TIMER_INITIAL equ LAPIC + 0x380
LAPIC_TIMER_CURRENT equ LAPIC + 0x390
LAPIC_TIMER_DIVIDE  equ LAPIC + 0x3E0
IOAPIC_SEL      equ 0xFEC00000
IOAPIC_WIN      equ 0xFEC00010

MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00010003          ; page-align, memory info, a.out kludge

%macro PRINT 1+
        jmp %%after
%%text: db %1, 0
%%after:
        push esi
        mov esi, %%text
        call puts
        pop esi
%endmacro
%macro PRINTLN 1+
        PRINT %1
        call newline
%endmacro
%macro EXIT 1
        mov al, %1
        jmp exit_with
%endmacro

file_start:
        align 4
mb_header:
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)
        dd mb_header, file_start, file_end, bss_end, entry

entry:
        cli
        mov esp, stack_top
        lgdt [gdtr]
        jmp 0x08:.reload
.reload:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        xor eax, eax                    ; every vector to its unexpected-vector stub
        mov ebx, vector_stubs
.gate:
        call set_gate
        add ebx, VECTOR_STUB_BYTES
        inc eax
        cmp eax, 256
        jb .gate
        lidt [idtr]
        call pic_init_masked
        jmp main

; set_gate: EAX = vector, EBX = handler. 32-bit interrupt gate, selector 0x08, DPL 0.
set_gate:
        push edx
        push ecx
        lea edx, [idt + eax * 8]
        mov ecx, ebx
        and ecx, 0xFFFF
        or ecx, 0x00080000
        mov [edx], ecx
        mov ecx, ebx
        and ecx, 0xFFFF0000
        or ecx, 0x8E00
        mov [edx + 4], ecx
        pop ecx
        pop edx
        ret

; pic_init_masked: ICW1-4 on both 8259s (vectors 0x20 / 0x28), all inputs masked.
pic_init_masked:
        push eax
        mov al, 0x11                    ; ICW1: edge, cascade, ICW4 needed
        out PIC1_CMD, al
        out PIC2_CMD, al
        mov al, 0x20                    ; ICW2: vector bases
        out PIC1_DATA, al
        mov al, 0x28
        out PIC2_DATA, al
        mov al, 0x04                    ; ICW3: slave on master IRQ 2
        out PIC1_DATA, al
        mov al, 0x02                    ;       slave identity 2
        out PIC2_DATA, al
        mov al, 0x01                    ; ICW4: 8086 mode, normal EOI
        out PIC1_DATA, al
        out PIC2_DATA, al
        mov al, 0xFF                    ; OCW1: mask everything
        out PIC1_DATA, al
        out PIC2_DATA, al
        pop eax
        ret

putc:                                   ; AL to the debug console
        out DEBUGCON, al
        ret

puts:
        push esi
        push eax
.next:
        mov al, [esi]
        test al, al
        jz .done
        out DEBUGCON, al
        inc esi
        jmp .next
.done:
        pop eax
        pop esi
        ret

newline:
        push eax
        mov al, 10
        out DEBUGCON, al
        pop eax
        ret

put_hex:
        push ecx
        push eax
        push edx
        mov edx, eax
        mov ecx, 8
.digit:
        rol edx, 4
        mov al, dl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .emit
        add al, 'A' - '0' - 10
.emit:
        out DEBUGCON, al
        loop .digit
        pop edx
        pop eax
        pop ecx
        ret

put_dec:
        pushad
        mov ebx, 10
        xor ecx, ecx
.divide:
        xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .divide
.emit:
        pop eax
        add al, '0'
        out DEBUGCON, al
        loop .emit
        popad
        ret

exit_with:
        out DEBUG_EXIT, al
.stop:
        cli
        hlt
        jmp .stop

VECTOR_STUB_BYTES equ 16              ; each stub: push imm, jmp rel32, padding
        align 16
vector_stubs:
%assign v 0
%rep 256
        push dword v
        jmp near unexpected_vector
        align 16
%assign v v + 1
%endrep

unexpected_vector:
        PRINT "unexpected vector "
        pop eax
        call put_hex
        call newline
        EXIT ${UNEXPECTED_VECTOR_EXIT}

        align 8
gdt:
        dq 0
        dq 0x00CF9A000000FFFF           ; 0x08 flat code
        dq 0x00CF92000000FFFF           ; 0x10 flat data
gdtr:
        dw gdtr - gdt - 1
        dd gdt
idtr:
        dw 256 * 8 - 1
        dd idt
`;

/** The image's bss: the IDT, the test's variables (own page, away from code) and the stack. */
function epilogue(bss: string): string {
  return `
        align 4
file_end:
        absolute file_end
        alignb 4096
idt:    resb 256 * 8
        alignb 4096
${bss}
        alignb 4096
        resb 16384
stack_top:
bss_end:
`;
}

/**
 * Full NASM source of a Multiboot guest whose `main` (and anything else) is `code`; `bss`
 * holds `res*` declarations of its variables (zero at entry, in their own page so that
 * writing them does not touch the page the code runs from).
 */
export function guestSource(code: string, bss = ''): string {
  return `${PRELUDE}\n; ---- test code ----\n${code}\n${epilogue(bss)}`;
}

/** The assembled kernel image for `code` and `bss`. */
export function guestImage(code: string, bss = ''): Uint8Array {
  return assemble(guestSource(code, bss));
}

/** A machine running a guest, and what the guest said. */
export interface GuestRun {
  readonly vm: PcMachine;
  /** Debug-console lines so far. */
  readonly lines: string[];
  /** COM1 output so far. */
  serial(): string;
  /** Run for at most `maxTicks` clock ticks (instructions plus idle time; default 10 s of guest time). */
  run(maxTicks?: number): StopReason;
  /** Release the machine. */
  dispose(): void;
}

/** A guest: its code and the `res*` declarations of its variables. */
export interface GuestCode {
  readonly code: string;
  readonly bss?: string;
}

/** Boot a guest (code, or code and bss) as a Multiboot kernel on a fresh PC board. */
export function bootGuest(guest: string | GuestCode, config: Partial<PcConfig> = {}): GuestRun {
  const { code, bss } = typeof guest === 'string' ? { code: guest, bss: '' } : guest;
  const host = new Host({ maxFrames: 8192 });
  const lines: string[] = [];
  let serial = '';
  const vm = host.createMachine('platform', {
    memoryBytes: RAM_BYTES,
    kernel: { name: 'platform-guest', data: guestImage(code, bss) },
    debugLog: (l) => lines.push(l),
    serialOut: (b) => { serial += String.fromCharCode(b); },
    ...config,
  });
  return {
    vm,
    lines,
    serial: () => serial,
    run: (maxTicks = 1_000_000_000) => vm.run(maxTicks),
    dispose: () => host.destroyMachine('platform'),
  };
}

/** The value of `name=<value>` in the guest's lines (hex when the value starts with 0x). */
export function reported(lines: readonly string[], name: string): number {
  const re = new RegExp(`(?:^|\\s)${name}=(0x[0-9A-Fa-f]+|\\d+)(?:\\s|$)`);
  for (const l of lines) {
    const m = re.exec(l);
    if (m) return Number(m[1]);
  }
  throw new Error(`the guest did not report ${name}=...; its output was:\n${lines.join('\n')}`);
}
