; pm-v86.asm - virtual-8086 mode under a 32-bit ring-0 monitor, as TAP over COM1.
;
; Covers (Intel SDM vol. 3B chapter 20): entering v8086 mode by IRETD with EFLAGS.VM set;
; 16-bit code with real-mode segment arithmetic (linear = selector*16 + offset) running
; straight from the ROM at F000:xxxx; with IOPL=3, CLI/STI/PUSHF/POPF run directly and INT n
; goes through the protected-mode IDT (DPL 3 gate) to ring 0 with the v8086 frame (GS FS
; DS ES SS ESP EFLAGS CS EIP) on the TSS.ESP0 stack and DS/ES/FS/GS zeroed; INT n through a
; DPL 0 gate is #GP(vector*8+2); I/O is checked against the TSS bitmap even at IOPL=3;
; a #DE in v8086 mode goes through the DPL 0 gate with the v8086 frame;
; with IOPL=0, CLI/STI/PUSHF/POPF/INT n/IRET raise #GP(0) and a small monitor emulates
; them (virtual IF, INT n through the real-mode IVT, IRET), then the guest leaves v8086
; mode back to the monitor.
;
; Exit value 0 when every check passed.

%define GUEST_NAME "pm-v86: virtual-8086 mode and its monitor"
%define ROM_SIZE 0x4000

%include "pm-defs.inc"

V86_CS          equ 0xF000              ; the ROM, seen as in real mode
V86_DS          equ VARS_BASE >> 4      ; the variables page
V86_SS          equ 0x0600
V86_SP          equ 0x0F00              ; linear 0x6F00
ES_PROBE        equ 0x1234              ; segment for the arithmetic check
ES_PROBE_OFF    equ 0x0010              ; linear 0x12350
FS_PROBE        equ 0x2345
GS_PROBE        equ 0x3456
VEC_EXIT        equ 0x40                ; DPL 3 interrupt gate: leave v8086 mode
VEC_DPL0        equ 0x41                ; DPL 0 gate
VEC_IVT         equ 0x21                ; emulated through the real-mode IVT (IOPL=0)
ALLOWED_PORT    equ 0x80
DENIED_PORT     equ 0x84

; Variables (v8086 code addresses them as DS:offset with DS = V86_DS)
V3_CS           equ u_var(0)
V3_FLAGS_CLI    equ u_var(1)
V3_FLAGS_STI    equ u_var(2)
V3_FLAGS_POPF   equ u_var(3)
V_IO_OK         equ u_var(4)
V0_FLAGS1       equ u_var(5)
V0_FLAGS2       equ u_var(6)
V0_FLAGS3       equ u_var(7)
V0_INT21        equ u_var(8)
V0_AFTER        equ u_var(9)
MON_VIF         equ u_var(10)           ; the monitor's virtual IF
MON_COUNT       equ u_var(11)           ; #GPs handled
MON_ERR_OR      equ u_var(12)           ; OR of their error codes
MON_LOG         equ u_var(13)           ; opcodes of the first 12 (3 dwords)
MON_EXIT        equ u_var(16)           ; 1 once the guest asked to leave

%define VOFF(x) ((x) - VARS_BASE)

%include "pm-boot.inc"

; V86 target, eflags: IRETD into v8086 mode at V86_CS:target with the v8086 stack and
; DS = V86_DS (ES, FS, GS = 0).
%macro V86 2
        push dword 0                    ; GS
        push dword 0                    ; FS
        push dword V86_DS               ; DS
        push dword 0                    ; ES
        push dword V86_SS
        push dword V86_SP
        push dword (%2) | EFL_VM | EFL_RESERVED1
        push dword V86_CS
        push dword (%1) - REAL_CS_BASE
        iretd
%endmacro

main:
        call plan_start
        IDT_STUB VEC_EXIT, GATE_INT32 | GATE_DPL3
        and byte [TSS_IOMAP + ALLOWED_PORT / 8], ~(1 << (ALLOWED_PORT % 8)) & 0xFF
        call test_iopl3
        call test_iopl3_faults
        call test_monitor
        jmp finish

; ---------------------------------------------------------------------------------------
test_iopl3:
        mov dword [ES_PROBE * 16 + ES_PROBE_OFF], 0
        TRY .back
        V86 v86_iopl3, EFL_IOPL3
.back:
        CHECK [fault_vec], VEC_EXIT, "v8086 code with IOPL=3 reaches int 0x40 (DPL 3 gate) and ring 0"
        CHECK [V3_CS], V86_CS, "in v8086 mode CS reads as the real-mode segment 0xF000"
        movzx eax, word [ES_PROBE * 16 + ES_PROBE_OFF]
        CHECK eax, 0xBEEF, "v8086 segment arithmetic: 1234:0010 is linear 0x12350"
        mov eax, [V3_FLAGS_CLI]
        and eax, EFL_IF
        CHECK eax, 0, "IOPL=3: cli clears IF directly (pushf shows IF=0)"
        mov eax, [V3_FLAGS_STI]
        and eax, EFL_IF
        CHECK eax, EFL_IF, "IOPL=3: sti sets IF directly (pushf shows IF=1)"
        mov eax, [V3_FLAGS_POPF]
        and eax, EFL_IF | EFL_CF
        CHECK eax, EFL_CF, "IOPL=3: popf loads CF=1 and IF=0"
        CHECK [fault_frame], TSS_ESP0 - 36, "int from v8086: 9-dword frame on the TSS.ESP0 stack"
        CHECK [fault_eip], v86_iopl3.after_int - REAL_CS_BASE, "v8086 frame: EIP (16-bit offset after the int)"
        CHECK [fault_cs], V86_CS, "v8086 frame: CS"
        mov eax, [fault_eflags]
        and eax, EFL_VM | EFL_IOPL3
        CHECK eax, EFL_VM | EFL_IOPL3, "v8086 frame: EFLAGS with VM and IOPL=3"
        CHECK [fault_esp], V86_SP, "v8086 frame: ESP"
        CHECK [fault_ss], V86_SS, "v8086 frame: SS"
        CHECK [fault_v86_es], ES_PROBE, "v8086 frame: ES"
        CHECK [fault_v86_ds], V86_DS, "v8086 frame: DS"
        CHECK [fault_v86_fs], FS_PROBE, "v8086 frame: FS"
        CHECK [fault_v86_gs], GS_PROBE, "v8086 frame: GS"
        CHECK [fault_seg_ds], 0, "entering the handler from v8086 mode zeroes DS"
        CHECK [fault_seg_es], 0, "... and ES"
        CHECK [fault_seg_fs], 0, "... and FS"
        CHECK [fault_seg_gs], 0, "... and GS"
        mov eax, [handler_eflags]
        and eax, EFL_VM
        CHECK eax, 0, "the handler runs in protected mode (VM clear)"
        ret

; ---------------------------------------------------------------------------------------
test_iopl3_faults:
        TRY .dpl0
        V86 v86_int_dpl0, EFL_IOPL3
.dpl0:
        CHECK_FAULT 13, VEC_DPL0 * 8 + 2, "v8086 int n through a DPL 0 gate: #GP(vector*8+2)"
        CHECK [fault_eip], v86_int_dpl0 - REAL_CS_BASE, "that #GP points at the int"
        mov dword [V_IO_OK], 0
        TRY .io
        V86 v86_io, EFL_IOPL3
.io:
        CHECK [V_IO_OK], 1, "v8086 out to a port the TSS bitmap allows"
        CHECK_FAULT 13, 0, "v8086 out to a denied port faults even with IOPL=3: #GP(0)"
        CHECK [fault_eip], v86_io.denied - REAL_CS_BASE, "that #GP points at the out"
        TRY .de
        V86 v86_divide, EFL_IOPL3
.de:
        CHECK [fault_vec], 0, "div by zero in v8086 mode: #DE through the DPL 0 gate (no DPL check for exceptions)"
        CHECK [fault_eip], v86_divide.div - REAL_CS_BASE, "that #DE points at the div (v8086 offset)"
        mov eax, [fault_eflags]
        and eax, EFL_VM
        CHECK eax, EFL_VM, "the #DE frame holds EFLAGS with VM set"
        ret

; ---------------------------------------------------------------------------------------
test_monitor:
        mov word [VEC_IVT * 4], v86_int21 - REAL_CS_BASE     ; real-mode IVT entry
        mov word [VEC_IVT * 4 + 2], V86_CS
        mov dword [MON_VIF], EFL_IF
        IDT_GATE 13, SEL_KCODE, v86_monitor, GATE_INT32
        TRY .back
        V86 v86_iopl0, 0
.back:
        IDT_STUB 13, GATE_INT32
        CHECK [MON_EXIT], 1, "IOPL=0: the guest left v8086 mode through the monitor (int 0x40 emulated)"
        CHECK [MON_COUNT], 11, "IOPL=0: cli, sti, pushf, cli, pushf, popf, pushf, int, iret, out, int each raised #GP"
        CHECK [MON_ERR_OR], 0, "IOPL=0: all those #GPs have error code 0"
        CHECK [MON_LOG], 0xFA9CFBFA, "monitor log: cli sti pushf cli"
        CHECK [MON_LOG + 4], 0xCD9C9D9C, "monitor log: pushf popf pushf int"
        CHECK [MON_LOG + 8], 0x00CDE6CF, "monitor log: iret out int"
        mov eax, [V0_FLAGS1]
        and eax, EFL_IF
        CHECK eax, EFL_IF, "emulated sti then pushf: the guest sees IF=1"
        mov eax, [V0_FLAGS2]
        and eax, EFL_IF
        CHECK eax, 0, "emulated cli then pushf: the guest sees IF=0"
        mov eax, [V0_FLAGS3]
        and eax, EFL_IF | EFL_CF
        CHECK eax, EFL_IF | EFL_CF, "emulated popf of IF|CF then pushf: the guest sees both"
        CHECK [V0_INT21], 0x2121, "emulated int 0x21 ran the real-mode handler from the IVT"
        CHECK [V0_AFTER], 1, "emulated iret returned to the instruction after the int"
        ret

; v86_monitor: the #GP handler while test_monitor runs. Emulates the IOPL-sensitive
; instructions of a v8086 guest; int 0x40 (or anything unexpected) ends the run by
; resuming the TRY. Stack: error code, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS.
v86_monitor:
        push ebp
        mov ebp, esp                    ; [ebp+4] error, +8 EIP, +12 CS, +16 EFLAGS, +20 ESP, +24 SS
        pushad
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        test dword [ebp + 16], EFL_VM
        jz .leave_run                   ; not from v8086 mode: give up
        mov eax, [ebp + 4]
        or [MON_ERR_OR], eax
        movzx esi, word [ebp + 12]
        shl esi, 4
        movzx eax, word [ebp + 8]
        add esi, eax                    ; linear address of CS:IP
        movzx eax, byte [esi]
        mov ecx, [MON_COUNT]
        cmp ecx, 12
        jae .logged
        mov [MON_LOG + ecx], al
.logged:
        inc dword [MON_COUNT]
        cmp al, 0xFA
        je .cli
        cmp al, 0xFB
        je .sti
        cmp al, 0x9C
        je .pushf
        cmp al, 0x9D
        je .popf
        cmp al, 0xCD
        je .int
        cmp al, 0xCF
        je .iret
        cmp al, 0xE6
        je .out_imm
        jmp .leave_run
.cli:
        mov dword [MON_VIF], 0
        jmp .skip1
.sti:
        mov dword [MON_VIF], EFL_IF
        jmp .skip1
.pushf:
        call guest_flags
        call v86_push16
        jmp .skip1
.popf:
        call v86_pop16
        call set_guest_flags
        jmp .skip1
.int:
        movzx ebx, byte [esi + 1]
        cmp ebx, VEC_EXIT
        je .exit
        call guest_flags
        call v86_push16
        movzx eax, word [ebp + 12]
        call v86_push16
        movzx eax, word [ebp + 8]
        add eax, 2
        call v86_push16
        mov dword [MON_VIF], 0
        movzx eax, word [ebx * 4]
        mov [ebp + 8], eax
        movzx eax, word [ebx * 4 + 2]
        mov [ebp + 12], eax
        jmp .resume
.iret:
        call v86_pop16
        mov [ebp + 8], eax
        call v86_pop16
        mov [ebp + 12], eax
        call v86_pop16
        call set_guest_flags
        jmp .resume
.out_imm:
        add word [ebp + 8], 2           ; a denied port: drop the write
        jmp .resume
.skip1:
        inc word [ebp + 8]
.resume:
        popad
        pop ebp
        add esp, 4                      ; error code
        iretd
.exit:
        mov dword [MON_EXIT], 1
.leave_run:
        mov eax, [try_resume]
        mov dword [try_resume], 0
        mov dx, SEL_KDATA
        mov ss, dx
        mov esp, [try_esp]
        mov fs, dx
        mov gs, dx
        jmp eax

; guest_flags: EAX = the guest's 16-bit FLAGS image with IF replaced by the virtual IF.
guest_flags:
        movzx eax, word [ebp + 16]
        and eax, ~EFL_IF & 0xFFFF
        or eax, [MON_VIF]
        ret

; set_guest_flags: take a 16-bit FLAGS image from AX: IF becomes the virtual IF, the
; other bits except IOPL go into the real EFLAGS.
set_guest_flags:
        mov edx, eax
        and edx, EFL_IF
        mov [MON_VIF], edx
        and eax, ~(EFL_IF | EFL_IOPL3) & 0xFFFF
        mov ecx, [ebp + 16]
        and ecx, 0xFFFF0000 | EFL_IF | EFL_IOPL3
        or ecx, eax
        mov [ebp + 16], ecx
        ret

; v86_push16: push AX on the guest's SS:SP. Clobbers EDX, EDI.
v86_push16:
        sub word [ebp + 20], 2
        movzx edi, word [ebp + 24]
        shl edi, 4
        movzx edx, word [ebp + 20]
        add edi, edx
        mov [edi], ax
        ret

; v86_pop16: EAX = the word popped from the guest's SS:SP. Clobbers EDX, EDI.
v86_pop16:
        movzx edi, word [ebp + 24]
        shl edi, 4
        movzx edx, word [ebp + 20]
        add edi, edx
        movzx eax, word [edi]
        add word [ebp + 20], 2
        ret

; =======================================================================================
; v8086 code (16-bit, run from the ROM as F000:offset, DS = V86_DS)
        bits 16
v86_iopl3:
        mov ax, cs
        mov [VOFF(V3_CS)], ax
        mov ax, ES_PROBE
        mov es, ax
        mov word [es:ES_PROBE_OFF], 0xBEEF
        cli
        pushf
        pop ax
        mov [VOFF(V3_FLAGS_CLI)], ax
        sti
        pushf
        pop ax
        mov [VOFF(V3_FLAGS_STI)], ax
        cli
        push word EFL_CF
        popf
        pushf
        pop ax
        mov [VOFF(V3_FLAGS_POPF)], ax
        mov ax, FS_PROBE
        mov fs, ax
        mov ax, GS_PROBE
        mov gs, ax
        int VEC_EXIT
.after_int:
        hlt

v86_int_dpl0:
        int VEC_DPL0
        int VEC_EXIT

v86_io:
        mov al, 0x55
        out ALLOWED_PORT, al
        mov word [VOFF(V_IO_OK)], 1
.denied:
        out DENIED_PORT, al
        int VEC_EXIT

v86_divide:
        xor dx, dx
        mov ax, 1
        xor cx, cx
.div:
        div cx
        int VEC_EXIT

v86_iopl0:
        cli
        sti
        pushf
        pop ax
        mov [VOFF(V0_FLAGS1)], ax
        cli
        pushf
        pop ax
        mov [VOFF(V0_FLAGS2)], ax
        push word EFL_IF | EFL_CF
        popf
        pushf
        pop ax
        mov [VOFF(V0_FLAGS3)], ax
        int VEC_IVT
        mov word [VOFF(V0_AFTER)], 1
        mov al, 0x55
        out ALLOWED_PORT, al
        out DENIED_PORT, al
        int VEC_EXIT
        hlt

v86_int21:                              ; the real-mode handler of int 0x21
        mov word [VOFF(V0_INT21)], 0x2121
        iret
        bits 32

%include "pm-lib.inc"
%include "pm-end.inc"
