; pm-triple.asm - a guest that triple-faults on purpose, for the machine's shutdown
; handling (a triple fault cannot be tested from inside a guest: it resets the machine).
;
; Enters protected mode (lib/pm-boot.inc), prints "# pm-triple: triple-faulting now",
; loads an IDT with limit 0 and executes INT3: the #BP gate is beyond the limit (#GP), so
; is the #GP gate (#DF), and so is the #DF gate: shutdown (Intel SDM vol. 3A 6.15,
; interrupt 8). Should the CPU survive, the guest prints "not ok - survived" and exits
; with 1 through port 0xF4. Expected: a triple fault (our PC board reports
; { kind: 'triple-fault' }; QEMU with -no-reboot exits with status 0).

%define GUEST_NAME "pm-triple: triple-faulting now"
%define ROM_SIZE 0x2000

%include "pm-defs.inc"
%include "pm-boot.inc"

main:
        lidt [empty_idtr]
        int3
        mov esi, text_survived
        call puts
        mov al, EXIT_FAILED
        jmp exit_with

empty_idtr:
        dw 0
        dd IDT_BASE
text_survived:  db "not ok - survived a triple fault", 13, 10, 0

%include "pm-lib.inc"
%include "pm-end.inc"
