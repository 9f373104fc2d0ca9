; bench32.asm - the CPU-bound benchmark of bench.asm (same sieve, same passes, same rolling
; checksum, so the same output numbers) as 32-bit protected-mode code, built twice:
;
;   nasm ...                 flat segments, paging off        (bench32-flat.bin)
;   nasm ... -DPAGING        4 KiB pages; the sieve is reached through a page table that
;                            maps linear 0x400000.. to physical 0x200000..  (bench32-paged.bin)
;
; The ROM enters protected mode itself (guests/pm/lib/pm-boot.inc), runs REPEATS passes and
; prints one line over COM1:
;     bench32: mode=<flat|paged> repeats=<decimal> primes=<decimal> checksum=<8 hex digits>
; then writes the exit value to port 0xF4: 0 when every pass found EXPECTED_PRIMES primes,
; 1 when a count was wrong, 2 (paged build) when paging was not in effect (a store through
; the sieve's linear address did not reach its physical frame).

%ifndef REPEATS
REPEATS         equ 400
%endif

%ifdef PAGING
  %define GUEST_NAME "bench32: protected mode, paged"
  %define MODE_TEXT "paged"
%else
  %define GUEST_NAME "bench32: protected mode, flat"
  %define MODE_TEXT "flat"
%endif
%define ROM_SIZE 0x2000

%include "pm-defs.inc"

SIEVE_PHYS      equ 0x200000
%ifdef PAGING
SIEVE           equ 0x400000            ; linear address, mapped to SIEVE_PHYS
%else
SIEVE           equ SIEVE_PHYS
%endif
SIEVE_SIZE      equ 61440               ; entry i is 0 when i is prime
EXPECTED_PRIMES equ 6179
CHECKSUM_SEED   equ 0x12345678
CHECKSUM_SALT   equ 0x9E3779B9
BLOCK_BYTES     equ 16

V_CHECKSUM      equ u_var(0)
V_PASSES_LEFT   equ u_var(1)
V_FAILURES      equ u_var(2)
V_PRIME_COUNT   equ u_var(3)

PD              equ 0x20000             ; page directory
PT0             equ 0x21000             ; 0..4 MiB identity
PT1             equ 0x22000             ; 4..8 MiB -> physical 2..6 MiB
PG_URW          equ 0x7                 ; present, writable, user
PAGING_MAGIC    equ 0x5AFE9A6E

%include "pm-boot.inc"

main:
%ifdef PAGING
        call enable_paging
        call check_paging
%endif
        mov dword [V_CHECKSUM], CHECKSUM_SEED
        mov dword [V_PASSES_LEFT], REPEATS
        mov dword [V_FAILURES], 0
.pass:
        call sieve_clear
        call sieve_mark
        call sieve_count
        mov [V_PRIME_COUNT], eax
        cmp eax, EXPECTED_PRIMES
        je .count_ok
        inc dword [V_FAILURES]
.count_ok:
        call checksum_pass
        dec dword [V_PASSES_LEFT]
        jnz .pass

        call report
        cmp dword [V_FAILURES], 0
        setne al                        ; 0 = all counts right, 1 = wrong
        jmp exit_with

; sieve_clear: zero the array with 32-bit stores, then mark 0 and 1 as not prime.
sieve_clear:
        xor eax, eax
        mov edi, SIEVE
        mov ecx, SIEVE_SIZE / 4
.store:
        mov [edi], eax
        add edi, 4
        dec ecx
        jnz .store
        mov byte [SIEVE + 0], 1
        mov byte [SIEVE + 1], 1
        ret

; sieve_mark: for each prime p with p*p < SIEVE_SIZE, mark p*p, p*p+p, ... as composite.
sieve_mark:
        mov ebx, 2
.candidate:
        mov eax, ebx
        mul ebx
        cmp eax, SIEVE_SIZE
        jae .done
        cmp byte [SIEVE + ebx], 0
        jne .next
        mov edi, eax
.mark:
        mov byte [SIEVE + edi], 1
        add edi, ebx
        cmp edi, SIEVE_SIZE
        jb .mark
.next:
        inc ebx
        jmp .candidate
.done:
        ret

; sieve_count: return in EAX how many entries are still 0 (the primes).
sieve_count:
        xor esi, esi
        xor eax, eax
        mov ecx, SIEVE_SIZE
.entry:
        cmp byte [SIEVE + esi], 0
        jne .composite
        inc eax
.composite:
        inc esi
        loop .entry
        ret

; checksum_pass: fold the whole array into the running checksum, one block per call.
checksum_pass:
        mov edx, [V_CHECKSUM]
        xor esi, esi
        mov ecx, SIEVE_SIZE / BLOCK_BYTES
.block:
        call checksum_block
        dec ecx
        jnz .block
        mov [V_CHECKSUM], edx
        ret

; checksum_block: fold the 16 bytes at SIEVE+ESI into EDX exactly as bench.asm does (the
; low 16 bits of the position are added to DX; a carry mixes in the salt).
checksum_block:
        mov ebp, BLOCK_BYTES / 4
.dword:
        mov eax, [SIEVE + esi]
        xor eax, edx
        rol edx, 5
        add edx, eax
        add dx, si
        jnc .stored
        xor edx, CHECKSUM_SALT
.stored:
        mov [SIEVE + esi], eax
        add esi, 4
        dec ebp
        jnz .dword
        ret

%ifdef PAGING
; enable_paging: PT0 maps 0..4 MiB onto itself, PT1 maps 4..8 MiB onto 2..6 MiB (so the
; sieve's linear 0x400000 is physical 0x200000); all 4 KiB pages; CR3 = PD; CR0.PG.
enable_paging:
        mov edi, PD
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov edi, PT0
        mov eax, PG_URW
        mov ecx, 1024
.identity:
        stosd
        add eax, 0x1000
        loop .identity
        mov eax, SIEVE_PHYS | PG_URW
        mov ecx, 1024
.shifted:
        stosd                           ; PT1 follows PT0
        add eax, 0x1000
        loop .shifted
        mov dword [PD + 0], PT0 | PG_URW
        mov dword [PD + 4], PT1 | PG_URW
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:
        ret

; check_paging: a store through the sieve's linear address must land in its physical
; frame (seen through the identity map); exit with 2 when it does not.
check_paging:
        mov dword [SIEVE_PHYS], 0
        mov dword [SIEVE], PAGING_MAGIC
        cmp dword [SIEVE_PHYS], PAGING_MAGIC
        je .ok
        mov esi, text_no_paging
        call puts
        mov al, 2
        jmp exit_with
.ok:
        ret

text_no_paging: db "bench32: paging is not in effect", 13, 10, 0
%endif

; report: "bench32: mode=M repeats=R primes=P checksum=XXXXXXXX\r\n" over COM1.
report:
        mov esi, text_head
        call puts
        mov eax, REPEATS
        call put_dec
        mov esi, text_primes
        call puts
        mov eax, [V_PRIME_COUNT]
        call put_dec
        mov esi, text_checksum
        call puts
        mov eax, [V_CHECKSUM]
        call put_hex_digits
        mov esi, text_crlf
        call puts
        ret

text_head:      db "bench32: mode=", MODE_TEXT, " repeats=", 0
text_primes:    db " primes=", 0
text_checksum:  db " checksum=", 0

%include "pm-lib.inc"
%include "pm-end.inc"
