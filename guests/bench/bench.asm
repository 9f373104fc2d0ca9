; bench.asm - a CPU-bound benchmark guest in a 4 KiB ROM (same reset layout as hello).
;
; Each pass clears a 60 KiB byte array, runs a sieve of Eratosthenes over it, counts the
; primes, then folds the array into a rolling 32-bit checksum (mixing 16-bit and 32-bit
; operations, memory reads and writes, calls and data-dependent branches). After REPEATS
; passes it prints one line over COM1:
;     bench: repeats=<decimal> primes=<decimal> checksum=<8 hex digits>
; and writes the exit value to the debug-exit port 0xF4: 0 when every pass found
; EXPECTED_PRIMES primes, 1 otherwise.
;
; Build a short variant with `nasm -DREPEATS=1`. Pure real-mode integer code, no BIOS.

%ifndef REPEATS
REPEATS         equ 400             ; passes over the sieve (1..65535)
%endif

bits 16
cpu 386
org 0xF000

ROM_SIZE        equ 4096
RESET_SLOT_SIZE equ 16

SIEVE_SEGMENT   equ 0x1000          ; the array lives at linear 0x10000..0x1EFFF
SIEVE_SIZE      equ 61440           ; 60 KiB: entry i is 0 when i is prime
EXPECTED_PRIMES equ 6179            ; primes below 61440
CHECKSUM_SEED   equ 0x12345678
CHECKSUM_SALT   equ 0x9E3779B9      ; mixed in when the 16-bit position add carries
BLOCK_BYTES     equ 16              ; bytes folded per call of checksum_block

VARS_SEGMENT    equ 0x0050          ; variables at linear 0x500 (below the stack)
VAR_CHECKSUM    equ 0               ; dword: running checksum
VAR_PASSES_LEFT equ 4               ; word: passes still to run
VAR_FAILURES    equ 6               ; word: passes whose prime count was wrong
VAR_PRIME_COUNT equ 8               ; word: prime count of the last pass

STACK_SEGMENT   equ 0x0000
STACK_TOP       equ 0x7C00

%include "pc.inc"

start:
        cli
        cld
        mov ax, STACK_SEGMENT
        mov ss, ax
        mov sp, STACK_TOP
        mov ax, SIEVE_SEGMENT
        mov ds, ax
        mov ax, VARS_SEGMENT
        mov es, ax
        mov dword [es:VAR_CHECKSUM], CHECKSUM_SEED
        mov word [es:VAR_PASSES_LEFT], REPEATS
        mov word [es:VAR_FAILURES], 0

.pass:
        call sieve_clear
        call sieve_mark
        call sieve_count
        mov [es:VAR_PRIME_COUNT], ax
        cmp ax, EXPECTED_PRIMES
        je .count_ok
        inc word [es:VAR_FAILURES]
.count_ok:
        call checksum_pass
        dec word [es:VAR_PASSES_LEFT]
        jnz .pass

        call report
        cmp word [es:VAR_FAILURES], 0
        setne al                    ; exit value: 0 = all counts right, 1 = wrong
        out DEBUG_EXIT_PORT, al
.halt_forever:
        cli
        hlt
        jmp .halt_forever

; sieve_clear: zero the array with 32-bit stores, then mark 0 and 1 as not prime.
; Clobbers EAX, CX, DI.
sieve_clear:
        xor eax, eax
        xor di, di
        mov cx, SIEVE_SIZE / 4
.store:
        mov [di], eax
        add di, 4
        dec cx
        jnz .store
        mov byte [0], 1
        mov byte [1], 1
        ret

; sieve_mark: for each prime p with p*p < SIEVE_SIZE, mark p*p, p*p+p, ... as composite.
; Clobbers AX, BX, DX, DI.
sieve_mark:
        mov bx, 2
.candidate:
        mov ax, bx
        mul bx                      ; AX = p*p (fits: p <= 248)
        cmp ax, SIEVE_SIZE
        jae .done
        cmp byte [bx], 0
        jne .next
        mov di, ax
.mark:
        mov byte [di], 1
        add di, bx
        cmp di, SIEVE_SIZE
        jb .mark
.next:
        inc bx
        jmp .candidate
.done:
        ret

; sieve_count: return in AX how many entries are still 0 (the primes). Clobbers CX, SI.
sieve_count:
        xor si, si
        xor ax, ax
        mov cx, SIEVE_SIZE
.entry:
        cmp byte [si], 0
        jne .composite
        inc ax
.composite:
        inc si
        loop .entry
        ret

; checksum_pass: fold the whole array into the running checksum, one block per call.
; Clobbers EAX, EDX, CX, SI, BP.
checksum_pass:
        mov edx, [es:VAR_CHECKSUM]
        xor si, si
        mov cx, SIEVE_SIZE / BLOCK_BYTES
.block:
        call checksum_block
        dec cx
        jnz .block
        mov [es:VAR_CHECKSUM], edx
        ret

; checksum_block: fold the 16 bytes at DS:SI into EDX and advance SI past them. Each
; dword is xored with the state, the state rotates and absorbs it, the 16-bit position is
; added to the low half and a carry out of that add mixes in a salt; the xored dword is
; written back (the array is rebuilt by the next pass anyway). Clobbers EAX, BP.
checksum_block:
        mov bp, BLOCK_BYTES / 4
.dword:
        mov eax, [si]
        xor eax, edx
        rol edx, 5
        add edx, eax
        add dx, si
        jnc .stored
        xor edx, CHECKSUM_SALT
.stored:
        mov [si], eax
        add si, 4
        dec bp
        jnz .dword
        ret

; report: print "bench: repeats=R primes=P checksum=XXXXXXXX\r\n" over COM1.
; Preserves DS. Clobbers EAX, BX, CX, DX, SI.
report:
        push ds
        mov ax, cs
        mov ds, ax
        call serial_init
        mov si, text_repeats
        call serial_puts
        mov ax, REPEATS
        call print_dec16
        mov si, text_primes
        call serial_puts
        mov ax, [es:VAR_PRIME_COUNT]
        call print_dec16
        mov si, text_checksum
        call serial_puts
        mov eax, [es:VAR_CHECKSUM]
        call print_hex32
        mov si, text_line_end
        call serial_puts
        pop ds
        ret

; print_dec16: print AX in decimal without leading zeros. Clobbers AX, BX, CX, DX.
print_dec16:
        mov bx, 10
        xor cx, cx
.divide:
        xor dx, dx
        div bx
        push dx                     ; digits come out least significant first
        inc cx
        test ax, ax
        jnz .divide
.emit:
        pop ax
        add al, '0'
        call serial_putc
        loop .emit
        ret

; print_hex32: print EAX as 8 upper-case hex digits. Clobbers EAX, CX, DX.
print_hex32:
        mov cx, 8
.digit:
        rol eax, 4                  ; bring the next nibble to the bottom
        push eax
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .emit
        add al, 'A' - '0' - 10
.emit:
        call serial_putc
        pop eax
        loop .digit
        ret

%include "serial.inc"

text_repeats:   db "bench: repeats=", 0
text_primes:    db " primes=", 0
text_checksum:  db " checksum=", 0
text_line_end:  db 13, 10, 0

; Pad up to the reset slot; the CPU's first instruction is the far jump below.
        times ROM_SIZE - RESET_SLOT_SIZE - ($ - $$) db 0xF4
reset_vector:
        jmp 0xF000:start
        times ROM_SIZE - ($ - $$) db 0xF4
