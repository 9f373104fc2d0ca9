; dirty.asm - a memory-dirtying guest: the workload the snapshot and live-migration tests
; move while it runs. A 32-bit protected-mode ROM (entered like the pm-* kernels through
; guests/pm/lib/pm-boot.inc) that
;
;   - paces itself with the 8254 PIT: channel 0 at about TICK_HZ interrupts per second of
;     guest time (IRQ 0 through the 8259, vector 0x20); each tick allows one batch;
;   - per batch, writes PAGES_PER_TICK pages of the working set (WORKING_SET_PAGES pages of
;     4 KiB from WORKING_SET, a power of two), each picked by a 32-bit LCG, with a
;     pseudo-random pattern (xorshift32 seeded by the page number and a fresh stamp);
;   - before overwriting a page, re-verifies the whole page against the pattern of its last
;     stamp (kept in a table, one dword per page; stamp 0 = never written = all zero), so a
;     frame that was lost or arrives stale is detected and printed on COM1:
;         dirty: ERROR page=XXXXXXXX stamp=XXXXXXXX offset=XXXXXXXX
;   - every PROGRESS_EVERY batches prints
;         dirty: iteration=<dec> checksum=XXXXXXXX errors=<dec>
;   - after ITERATIONS batches verifies the whole working set once more, prints
;         dirty: done iterations=<dec> pages=<dec> checksum=XXXXXXXX errors=<dec>
;     and writes the exit value to port 0xF4: 0 when no error was seen, 1 otherwise.
;
; The running checksum folds the page number and the last pattern dword of every page
; written, so it depends on every write and on the order of writes. Guest time is the only
; thing the program depends on besides its own code, so the output is the same on every run
; of a deterministic machine.
;
; Build-time knobs (nasm -D): ITERATIONS, PAGES_PER_TICK, WORKING_SET_PAGES (power of two),
; PROGRESS_EVERY, TICK_HZ. Defaults: 2000 batches of 4 pages at 1000 Hz over 8 MiB
; (16 MiB/s of guest time). Memory used besides pm-boot's: the stamp table at 0x10000,
; the working set from 2 MiB (so RAM must be at least 2 MiB + the working set).

%ifndef ITERATIONS
ITERATIONS          equ 2000
%endif
%ifndef PAGES_PER_TICK
PAGES_PER_TICK      equ 4
%endif
%ifndef WORKING_SET_PAGES
WORKING_SET_PAGES   equ 2048
%endif
%ifndef PROGRESS_EVERY
PROGRESS_EVERY      equ 250
%endif
%ifndef TICK_HZ
TICK_HZ             equ 1000
%endif

%if (WORKING_SET_PAGES & (WORKING_SET_PAGES - 1)) != 0
  %error "WORKING_SET_PAGES must be a power of two"
%endif

%define GUEST_NAME "dirty: memory-dirtying workload"
%define ROM_SIZE 0x2000

%include "pm-defs.inc"

WORKING_SET         equ 0x200000            ; first byte of the working set
STAMP_TABLE         equ GUEST_DATA          ; one dword per working-set page
PAGE_BYTES          equ 4096
PAGE_DWORDS         equ PAGE_BYTES / 4

PIT_HZ              equ 1193182             ; the 8254's input clock
PIT_DIVISOR         equ (PIT_HZ + TICK_HZ / 2) / TICK_HZ
PIT_CHANNEL0        equ 0x40
PIT_COMMAND         equ 0x43
PIT_CH0_RATE_LOHI   equ 0x34                ; channel 0, lobyte/hibyte, mode 2, binary
PIC1_COMMAND        equ 0x20
PIC1_DATA           equ 0x21
PIC2_COMMAND        equ 0xA0
PIC2_DATA           equ 0xA1
PIC_EOI             equ 0x20
TIMER_VECTOR        equ 0x20                ; master 8259 base vector (IRQ 0)
LAPIC_BASE          equ 0xFEE00000          ; local APIC registers (power-on base)
LAPIC_SVR           equ 0xF0                ; spurious vector; bit 8 = software enable
LAPIC_LVT_LINT0     equ 0x350
LAPIC_LVT_LINT1     equ 0x360
LAPIC_SVR_ON        equ 0x1FF               ; enabled, spurious vector 0xFF
LVT_EXTINT          equ 0x700               ; delivery mode ExtINT, unmasked
LVT_NMI             equ 0x400               ; delivery mode NMI, unmasked

LCG_MUL             equ 1664525             ; Numerical Recipes' 32-bit LCG
LCG_ADD             equ 1013904223
SEED_PAGE_MUL       equ 0x9E3779B9          ; spreads page numbers and stamps over the seed
SEED_STAMP_MUL      equ 0x85EBCA6B
MAX_ERROR_LINES     equ 16                  ; errors printed (all are counted)

V_TICKS             equ u_var(0)            ; timer interrupts so far
V_ITERATION         equ u_var(1)            ; batches done
V_LCG               equ u_var(2)            ; page picker state
V_STAMP             equ u_var(3)            ; last stamp handed out
V_CHECKSUM          equ u_var(4)
V_ERRORS            equ u_var(5)
V_PAGES_WRITTEN     equ u_var(6)
V_PAGE              equ u_var(7)            ; page being verified (for the error line)

%include "pm-boot.inc"

main:
        mov dword [V_LCG], 0x2545F491
        mov dword [V_CHECKSUM], 0x6A09E667
        call clear_stamp_table
        call install_timer
        sti
.batch:
        call wait_for_tick
        mov ecx, PAGES_PER_TICK
.page:
        call next_page                  ; EBX = page number
        call verify_page
        call write_page
        loop .page
        inc dword [V_ITERATION]
        mov eax, [V_ITERATION]
        xor edx, edx
        mov ebx, PROGRESS_EVERY
        div ebx
        test edx, edx
        jnz .no_progress
        call report_progress
.no_progress:
        cmp dword [V_ITERATION], ITERATIONS
        jb .batch

        cli
        call verify_all
        call report_done
        cmp dword [V_ERRORS], 0
        setne al                        ; 0 = every page read back as written
        jmp exit_with

; clear_stamp_table: every page starts "never written" (stamp 0: must read as zeros).
clear_stamp_table:
        mov edi, STAMP_TABLE
        mov ecx, WORKING_SET_PAGES
        xor eax, eax
        rep stosd
        ret

; install_timer: IDT gate for IRQ 0; the local APIC in virtual-wire mode (software-enabled,
; LINT0 = ExtINT, LINT1 = NMI: what a PC BIOS leaves, MP spec 3.6.2.2; without it the
; 8259's INTR does not reach the processor); both 8259s initialized (master at vector
; 0x20, slave at 0x28, only IRQ 0 unmasked); PIT channel 0 as a rate generator at TICK_HZ.
install_timer:
        mov dword [LAPIC_BASE + LAPIC_SVR], LAPIC_SVR_ON
        mov dword [LAPIC_BASE + LAPIC_LVT_LINT0], LVT_EXTINT
        mov dword [LAPIC_BASE + LAPIC_LVT_LINT1], LVT_NMI
        mov edi, IDT_BASE + TIMER_VECTOR * 8
        mov eax, timer_interrupt
        mov ebx, SEL_KCODE
        mov ecx, GATE_INT32
        call set_gate
        mov al, 0x11                    ; ICW1: edge, cascade, ICW4 follows
        out PIC1_COMMAND, al
        out PIC2_COMMAND, al
        mov al, TIMER_VECTOR            ; ICW2: vector bases
        out PIC1_DATA, al
        mov al, TIMER_VECTOR + 8
        out PIC2_DATA, al
        mov al, 0x04                    ; ICW3: slave on IRQ 2 / slave ID 2
        out PIC1_DATA, al
        mov al, 0x02
        out PIC2_DATA, al
        mov al, 0x01                    ; ICW4: 8086 mode
        out PIC1_DATA, al
        out PIC2_DATA, al
        mov al, 0xFE                    ; OCW1: only IRQ 0
        out PIC1_DATA, al
        mov al, 0xFF
        out PIC2_DATA, al
        mov al, PIT_CH0_RATE_LOHI
        out PIT_COMMAND, al
        mov al, PIT_DIVISOR & 0xFF
        out PIT_CHANNEL0, al
        mov al, PIT_DIVISOR >> 8
        out PIT_CHANNEL0, al
        ret

; timer_interrupt: count the tick, end the interrupt at the master 8259.
timer_interrupt:
        push eax
        inc dword [V_TICKS]
        mov al, PIC_EOI
        out PIC1_COMMAND, al
        pop eax
        iretd

; wait_for_tick: return once more ticks have arrived than batches were done (a late
; guest catches up batch after batch; an early one sleeps in HLT until the next tick).
wait_for_tick:
.check:
        cli
        mov eax, [V_TICKS]
        cmp eax, [V_ITERATION]
        ja .go
        sti                             ; STI's shadow covers the HLT: no lost wake-up
        hlt
        jmp .check
.go:
        sti
        ret

; next_page: advance the LCG; EBX = the page it picks (high bits, masked to the set).
next_page:
        mov eax, [V_LCG]
        mov edx, LCG_MUL
        mul edx
        add eax, LCG_ADD
        mov [V_LCG], eax
        shr eax, 8
        and eax, WORKING_SET_PAGES - 1
        mov ebx, eax
        ret

; pattern_seed: EAX = the xorshift32 seed of page EBX with stamp EAX (never 0).
pattern_seed:
        push edx
        imul eax, eax, SEED_STAMP_MUL
        mov edx, ebx
        imul edx, edx, SEED_PAGE_MUL
        xor eax, edx
        or eax, 1
        pop edx
        ret

; xorshift32: advance EAX (a nonzero state) by one step. Clobbers EDX.
%macro XORSHIFT32 0
        mov edx, eax
        shl edx, 13
        xor eax, edx
        mov edx, eax
        shr edx, 17
        xor eax, edx
        mov edx, eax
        shl edx, 5
        xor eax, edx
%endmacro

; page_address: EDI = first byte of page EBX.
%macro PAGE_ADDRESS 0
        mov edi, ebx
        shl edi, 12
        add edi, WORKING_SET
%endmacro

; verify_page: compare page EBX with the pattern of its stamp (zeros for stamp 0); count
; and report the first mismatching dword. Preserves EBX, ECX.
verify_page:
        push ecx
        mov [V_PAGE], ebx
        PAGE_ADDRESS
        mov ecx, PAGE_DWORDS
        mov eax, [STAMP_TABLE + ebx * 4]
        test eax, eax
        jz .zeros
        call pattern_seed
.pattern:
        XORSHIFT32
        cmp [edi], eax
        jne .mismatch
        add edi, 4
        dec ecx
        jnz .pattern
        pop ecx
        ret
.zeros:
        cmp dword [edi], 0
        jne .mismatch
        add edi, 4
        dec ecx
        jnz .zeros
        pop ecx
        ret
.mismatch:
        call report_error
        pop ecx
        ret

; write_page: give page EBX a fresh stamp and fill it with that stamp's pattern; fold the
; page number and the last dword into the checksum. Preserves EBX, ECX.
write_page:
        push ecx
        mov eax, [V_STAMP]
        inc eax
        mov [V_STAMP], eax
        mov [STAMP_TABLE + ebx * 4], eax
        call pattern_seed
        PAGE_ADDRESS
        mov ecx, PAGE_DWORDS
.fill:
        XORSHIFT32
        mov [edi], eax
        add edi, 4
        dec ecx
        jnz .fill
        mov edx, [V_CHECKSUM]
        rol edx, 5
        add edx, eax
        xor edx, ebx
        mov [V_CHECKSUM], edx
        inc dword [V_PAGES_WRITTEN]
        pop ecx
        ret

; verify_all: verify every page of the working set.
verify_all:
        xor ebx, ebx
.next:
        call verify_page
        inc ebx
        cmp ebx, WORKING_SET_PAGES
        jb .next
        ret

; report_error: count an error at EDI (page V_PAGE); print the first MAX_ERROR_LINES.
report_error:
        inc dword [V_ERRORS]
        cmp dword [V_ERRORS], MAX_ERROR_LINES
        ja .quiet
        push eax
        push esi
        mov esi, text_error_page
        call puts
        mov eax, [V_PAGE]
        call put_hex_digits
        mov esi, text_error_stamp
        call puts
        mov eax, [V_PAGE]
        mov eax, [STAMP_TABLE + eax * 4]
        call put_hex_digits
        mov esi, text_error_offset
        call puts
        mov eax, edi
        and eax, PAGE_BYTES - 1
        call put_hex_digits
        call crlf
        pop esi
        pop eax
.quiet:
        ret

; report_progress: "dirty: iteration=N checksum=X errors=E".
report_progress:
        mov esi, text_progress
        call puts
        mov eax, [V_ITERATION]
        call put_dec
        call report_checksum_and_errors
        ret

; report_done: "dirty: done iterations=N pages=P checksum=X errors=E".
report_done:
        mov esi, text_done
        call puts
        mov eax, [V_ITERATION]
        call put_dec
        mov esi, text_pages
        call puts
        mov eax, [V_PAGES_WRITTEN]
        call put_dec
        call report_checksum_and_errors
        ret

; report_checksum_and_errors: " checksum=X errors=E" and CR LF.
report_checksum_and_errors:
        mov esi, text_checksum
        call puts
        mov eax, [V_CHECKSUM]
        call put_hex_digits
        mov esi, text_errors
        call puts
        mov eax, [V_ERRORS]
        call put_dec
        call crlf
        ret

text_error_page:    db "dirty: ERROR page=", 0
text_error_stamp:   db " stamp=", 0
text_error_offset:  db " offset=", 0
text_progress:      db "dirty: iteration=", 0
text_done:          db "dirty: done iterations=", 0
text_pages:         db " pages=", 0
text_checksum:      db " checksum=", 0
text_errors:        db " errors=", 0

%include "pm-lib.inc"
%include "pm-end.inc"
