; pm-rings.asm - privilege levels and segmentation in protected mode, as TAP over COM1.
;
; Covers (Intel SDM vol. 3A chapters 5 and 6): ring 0 -> 3 by IRET and RETF; ring 3 -> 0
; by a call gate copying 2 dword parameters, by INT n through DPL 3 interrupt and trap
; gates (IF cleared or kept), by SYSENTER/SYSEXIT when CPUID reports SEP; the stack switch
; to TSS.SS0:ESP0 and the exact frames; #GP/#NP/#SS error codes for segment loads, INT n
; through a DPL 0 gate, privileged instructions at CPL 3, far transfers; DS/ES/FS/GS
; nulled on a return to an outer level (RETF and IRET); conforming code; the TSS I/O bitmap; LAR, LSL,
; VERR, VERW, ARPL; expand-down data segments and limit checks at the edge; LLDT/SLDT and
; LDT selectors; IRET/RETF to a bad privilege level; POPF at CPL 3 (IF and IOPL rules);
; 16-bit interrupt and call gates (word frames, a word parameter).
;
; Exit value 0 when every check passed (see lib/pm-lib.inc `finish`).

%define GUEST_NAME "pm-rings: privilege levels and segmentation"
%define ROM_SIZE 0x8000

%include "pm-defs.inc"

SEL_CONF        equ 0x30                ; conforming code, DPL 0
SEL_NPCODE      equ 0x38                ; code, not present
SEL_CGATE       equ 0x40                ; call gate, DPL 3, 2 parameters (set at run time)
SEL_EXPDN32     equ 0x48                ; expand-down data, limit 0xFFF, B=1
SEL_EXPDN16     equ 0x50                ; expand-down data, limit 0xFFF, B=0
SEL_SMALL       equ 0x58                ; data at 0x10000, limit 0xFFF (byte granular)
SEL_XONLY       equ 0x60                ; execute-only code, DPL 0
SEL_LIM1234     equ 0x68                ; data, limit 0x1234
SEL_NPDATA      equ 0x70                ; data, not present
SEL_RODATA      equ 0x78                ; read-only data
SEL_KGATE0      equ 0x80                ; call gate, DPL 0 (set at run time)
SEL_LDT         equ 0x88                ; LDT descriptor
SEL_KCODE_F     equ 0x90                ; 32-bit code, DPL 0, base 0xF0000 (16-bit gate targets)
SEL_CGATE16     equ 0x98                ; 16-bit call gate, DPL 3, 1 word parameter
LDT_BASE        equ 0x6800              ; its two entries (in the scratch page)
LSEL_DATA       equ 0x04                ; LDT entry 0: data at 0x10000 (TI=1, RPL 0)
LSEL_BEYOND     equ 0x14                ; LDT entry 2: beyond the LDT limit
LDT_MAGIC       equ 0x1D71D7AB

%macro GUEST_GDT 0
        DESC 0, 0xFFFFF, 0x9F, FLG_4K_32            ; SEL_CONF
        DESC 0, 0xFFFFF, 0x1B, FLG_4K_32            ; SEL_NPCODE (P=0)
        dq 0                                        ; SEL_CGATE
        DESC 0, 0x00FFF, 0x97, FLG_BYTE_32          ; SEL_EXPDN32
        DESC 0, 0x00FFF, 0x97, FLG_BYTE_16          ; SEL_EXPDN16
        DESC 0x10000, 0x00FFF, ACC_DATA0, FLG_BYTE_32 ; SEL_SMALL
        DESC 0, 0xFFFFF, 0x99, FLG_4K_32            ; SEL_XONLY
        DESC 0, 0x01234, ACC_DATA0, FLG_BYTE_32     ; SEL_LIM1234
        DESC 0, 0xFFFFF, 0x13, FLG_4K_32            ; SEL_NPDATA (P=0)
        DESC 0, 0xFFFFF, 0x91, FLG_4K_32            ; SEL_RODATA
        dq 0                                        ; SEL_KGATE0
        DESC LDT_BASE, 0x0F, 0x82, 0                ; SEL_LDT: 2 entries
        DESC REAL_CS_BASE, 0xFFFF, ACC_CODE0, FLG_BYTE_32 ; SEL_KCODE_F
        dq 0                                        ; SEL_CGATE16
%endmacro

; Variables written by ring-3 code and handlers
U_CS            equ u_var(0)
U_SS            equ u_var(1)
U_ESP           equ u_var(2)
U_DS            equ u_var(3)
U_ES            equ u_var(4)
U_FS            equ u_var(5)
U_GS            equ u_var(6)
CG_ESP          equ u_var(7)
CG_FRAME        equ u_var(8)            ; 6 dwords
CG_CS           equ u_var(14)
SYS_ESP         equ u_var(15)
SYS_CS          equ u_var(16)
SYS_SS          equ u_var(17)
SYS_EFL         equ u_var(18)
R3_RESULTS      equ u_var(20)           ; 4 dwords from r3_lar

VEC_IRET_NULL   equ 0x33                ; DPL 3 gate to iret_null_handler
VEC_INT16       equ 0x34                ; DPL 3 16-bit interrupt gate
GATE_INT16      equ 0x86
GATE_CALL16     equ 0x84
G16_ESP         equ u_var(24)           ; ESP in a 16-bit gate's handler
G16_FRAME       equ u_var(25)           ; the 5 words it found (3 dwords)
G16_CS          equ u_var(28)
SYSENTER_STACK  equ 0x8800
MSR_SYSENTER_CS  equ 0x174
MSR_SYSENTER_ESP equ 0x175
MSR_SYSENTER_EIP equ 0x176
CPUID_SEP       equ 1 << 11

%include "pm-boot.inc"

; ZF_TO ecx: ECX = 1 when ZF is set, else 0 (flags kept).
%macro ZF_TO_ECX 0
        setz cl
        movzx ecx, cl
%endmacro

main:
        call plan_start
        call test_iret_retf
        call test_call_gate
        call test_int_gates
        call test_sysenter
        call test_gp_ring3
        call test_segment_loads
        call test_conforming
        call test_io_bitmap
        call test_lar_lsl_verr
        call test_expand_down
        call test_limits
        call test_ldt
        call test_bad_returns
        call test_popf_cpl3
        call test_16bit_gates
        jmp finish

; ---------------------------------------------------------------------------------------
test_iret_retf:
        mov dword [U_CS], 0
        mov dword [U_SS], 0
        TRY .after_iret
        RING3 r3_report, EFL_RESERVED1 | EFL_IF | EFL_CF
.after_iret:
        CHECK [fault_vec], VEC_BACK, "iret from CPL 0 to CPL 3 runs ring-3 code that returns through a DPL 3 interrupt gate"
        CHECK [U_CS], SEL_UCODE, "after iret to ring 3: CS is the ring-3 code selector"
        CHECK [U_SS], SEL_UDATA, "after iret to ring 3: SS is the ring-3 stack selector"
        CHECK [fault_frame], TSS_ESP0 - 20, "int from CPL 3: the handler's frame starts at TSS.ESP0 - 20 (stack switched)"
        CHECK [handler_ss], SEL_KDATA, "int from CPL 3: SS in the handler is TSS.SS0"
        CHECK [fault_eip], r3_report.after_int, "int frame: EIP is the instruction after int"
        CHECK [fault_cs], SEL_UCODE, "int frame: CS is the ring-3 selector"
        CHECK [fault_eflags], EFL_RESERVED1 | EFL_IF | EFL_CF, "int frame: EFLAGS as ring 3 had them (IF, CF set by iret)"
        CHECK [fault_esp], USTACK_TOP, "int frame: ESP is the ring-3 stack pointer"
        CHECK [fault_ss], SEL_UDATA, "int frame: SS is the ring-3 stack selector"
        mov eax, [handler_eflags]
        and eax, EFL_IF
        CHECK eax, 0, "interrupt gate: IF is clear in the handler"

        mov dword [U_CS], 0
        TRY .after_retf
        mov ax, SEL_UDATA
        mov ds, ax
        mov es, ax
        push dword SEL_UDATA
        push dword USTACK_TOP - 64
        push dword SEL_UCODE
        push dword r3_report
        retf
.after_retf:
        CHECK [fault_vec], VEC_BACK, "retf from CPL 0 to CPL 3 runs ring-3 code"
        CHECK [U_CS], SEL_UCODE, "after retf to ring 3: CS is the ring-3 code selector"
        CHECK [fault_esp], USTACK_TOP - 64, "after retf to ring 3: ESP is the one popped from the ring-0 stack"
        ret

; ---------------------------------------------------------------------------------------
test_call_gate:
        GDT_GATE SEL_CGATE, SEL_KCODE, cg_handler, GATE_CALL32 | GATE_DPL3, 2
        RING3_TRY r3_callgate, 13, 0, "after the call-gate round trip, an access through the nulled DS faults with #GP(0)"
        CHECK [fault_eip], r3_callgate.use_ds, "that #GP points at the faulting instruction"
        CHECK [CG_CS], SEL_KCODE, "call gate from CPL 3: the handler runs with the gate's ring-0 code selector"
        CHECK [CG_ESP], TSS_ESP0 - 24, "call gate: stack switched to TSS.ESP0; SS, ESP, 2 parameters, CS, EIP pushed"
        CHECK [CG_FRAME + 0], r3_callgate.after_call, "call gate frame: return EIP"
        CHECK [CG_FRAME + 4], SEL_UCODE, "call gate frame: return CS"
        CHECK [CG_FRAME + 8], 0x22222222, "call gate frame: parameter at the caller's [esp] copied first"
        CHECK [CG_FRAME + 12], 0x11111111, "call gate frame: parameter at the caller's [esp+4] copied second"
        CHECK [CG_FRAME + 16], USTACK_TOP - 8, "call gate frame: caller's ESP (below its parameters)"
        CHECK [CG_FRAME + 20], SEL_UDATA, "call gate frame: caller's SS"
        CHECK [U_ESP], USTACK_TOP, "retf 8 to CPL 3 released the 2 parameters from the ring-3 stack"
        CHECK [U_CS], SEL_UCODE, "retf from the call gate: back at CPL 3"
        CHECK [U_DS], 0, "return to an outer level nulls DS holding a DPL 0 data segment"
        CHECK [U_ES], 0, "return to an outer level nulls ES holding a DPL 0 data segment"
        CHECK [U_FS], SEL_UDATA, "return to an outer level keeps FS holding a DPL 3 data segment"
        CHECK [U_GS], 0, "return to an outer level nulls GS holding a DPL 0 data segment"
        IDT_GATE VEC_IRET_NULL, SEL_KCODE, iret_null_handler, GATE_INT32 | GATE_DPL3
        mov dword [U_FS], 0
        RING3_TRY r3_iret_null, VEC_BACK, 0, "int to a ring-0 handler that loads DPL 0 data and irets back to CPL 3"
        CHECK [U_DS], 0, "iret to an outer level nulls DS holding a DPL 0 data segment"
        CHECK [U_ES], 0, "iret to an outer level nulls ES holding a DPL 0 data segment"
        CHECK [U_FS], SEL_UDATA, "iret to an outer level keeps FS holding a DPL 3 data segment"
        CHECK [U_GS], 0, "iret to an outer level nulls GS holding a DPL 0 data segment"
        ret

; The ring-0 target of VEC_IRET_NULL: DPL 0 data in DS/ES/GS, DPL 3 data in FS, iretd.
iret_null_handler:
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov gs, ax
        mov ax, SEL_UDATA
        mov fs, ax
        iretd

; The call gate's ring-0 target: record the frame, load DPL 0 data into DS/ES/GS and DPL 3
; data into FS, return to ring 3 releasing the 2 parameters.
cg_handler:
        mov [ss:CG_ESP], esp
        mov eax, [esp]
        mov [ss:CG_FRAME + 0], eax
        mov eax, [esp + 4]
        mov [ss:CG_FRAME + 4], eax
        mov eax, [esp + 8]
        mov [ss:CG_FRAME + 8], eax
        mov eax, [esp + 12]
        mov [ss:CG_FRAME + 12], eax
        mov eax, [esp + 16]
        mov [ss:CG_FRAME + 16], eax
        mov eax, [esp + 20]
        mov [ss:CG_FRAME + 20], eax
        xor eax, eax
        mov ax, cs
        mov [ss:CG_CS], eax
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov gs, ax
        mov ax, SEL_UDATA
        mov fs, ax
        retf 8

; ---------------------------------------------------------------------------------------
test_int_gates:
        IDT_STUB 0x31, GATE_INT32 | GATE_DPL3
        IDT_STUB 0x32, GATE_TRAP32 | GATE_DPL3
        TRY .after_int
        RING3 r3_int31, EFL_RESERVED1 | EFL_IF
.after_int:
        CHECK [fault_vec], 0x31, "int 0x31 from CPL 3 through a DPL 3 interrupt gate"
        mov eax, [handler_eflags]
        and eax, EFL_IF
        CHECK eax, 0, "interrupt gate clears IF"
        mov eax, [fault_eflags]
        and eax, EFL_IF
        CHECK eax, EFL_IF, "the interrupt frame holds the caller's IF=1"
        TRY .after_trap
        RING3 r3_int32, EFL_RESERVED1 | EFL_IF
.after_trap:
        CHECK [fault_vec], 0x32, "int 0x32 from CPL 3 through a DPL 3 trap gate"
        mov eax, [handler_eflags]
        and eax, EFL_IF
        CHECK eax, EFL_IF, "trap gate leaves IF set"
        CHECK [fault_frame], TSS_ESP0 - 20, "trap gate from CPL 3: frame at TSS.ESP0 - 20"
        ret

; ---------------------------------------------------------------------------------------
test_sysenter:
        mov eax, 1
        cpuid
        test edx, CPUID_SEP
        jnz .have_sep
        mov dword [skip_reason], text_no_sep
        jmp .checks
.have_sep:
        mov ecx, MSR_SYSENTER_CS
        mov eax, SEL_KCODE
        xor edx, edx
        wrmsr
        mov ecx, MSR_SYSENTER_ESP
        mov eax, SYSENTER_STACK
        wrmsr
        mov ecx, MSR_SYSENTER_EIP
        mov eax, sysenter_handler
        wrmsr
        mov dword [U_CS], 0
        mov dword [U_SS], 0
        TRY .checks
        RING3 r3_sysenter, EFL_RESERVED1 | EFL_IF
.checks:
        CHECK [fault_vec], VEC_BACK, "sysenter from CPL 3 and sysexit back to CPL 3"
        CHECK [SYS_ESP], SYSENTER_STACK, "sysenter: ESP = IA32_SYSENTER_ESP"
        CHECK [SYS_CS], SEL_KCODE, "sysenter: CS = IA32_SYSENTER_CS"
        CHECK [SYS_SS], SEL_KDATA, "sysenter: SS = IA32_SYSENTER_CS + 8"
        mov eax, [SYS_EFL]
        and eax, EFL_IF
        CHECK eax, 0, "sysenter clears IF"
        CHECK [U_CS], SEL_UCODE, "sysexit: CS = IA32_SYSENTER_CS + 16, RPL 3"
        CHECK [U_SS], SEL_UDATA, "sysexit: SS = IA32_SYSENTER_CS + 24, RPL 3"
        CHECK [fault_esp], USTACK_TOP - 32, "sysexit: ESP = ECX"
        CHECK [fault_eip], r3_sysenter.after_back, "sysexit: execution continues at EDX"
        mov dword [skip_reason], 0
        ret

sysenter_handler:
        mov [ss:SYS_ESP], esp
        pushfd
        pop dword [ss:SYS_EFL]
        xor eax, eax
        mov ax, cs
        mov [ss:SYS_CS], eax
        mov ax, ss
        mov [ss:SYS_SS], eax
        sysexit

; ---------------------------------------------------------------------------------------
test_gp_ring3:
        GDT_GATE SEL_KGATE0, SEL_KCODE, cg_handler, GATE_CALL32, 0
        RING3_TRY r3_load_kdata, 13, SEL_KDATA, "CPL 3 loads a DPL 0 data selector (RPL 3) into DS: #GP(selector without RPL)"
        CHECK [fault_eip], r3_load_kdata.fault, "that #GP points at the mov to DS"
        CHECK [fault_frame], TSS_ESP0 - 20, "#GP from CPL 3: frame at TSS.ESP0 - 20 with the error code below it"
        RING3_TRY r3_int41, 13, 0x41 * 8 + 2, "int 0x41 through a DPL 0 gate from CPL 3: #GP(vector*8+2)"
        CHECK [fault_eip], r3_int41, "that #GP points at the int instruction"
        RING3_TRY r3_hlt, 13, 0, "hlt at CPL 3: #GP(0)"
        RING3_TRY r3_cli, 13, 0, "cli at CPL 3 with IOPL 0: #GP(0)"
        RING3_TRY r3_lgdt, 13, 0, "lgdt at CPL 3: #GP(0)"
        RING3_TRY r3_mov_cr0, 13, 0, "mov cr0, eax at CPL 3: #GP(0)"
        RING3_TRY r3_call_kcode, 13, SEL_KCODE, "far call from CPL 3 to a non-conforming DPL 0 code segment: #GP(selector)"
        RING3_TRY r3_call_kgate, 13, SEL_KGATE0, "far call from CPL 3 through a DPL 0 call gate: #GP(selector)"
        ret

; ---------------------------------------------------------------------------------------
test_segment_loads:
        TRY .np_call
        call SEL_NPCODE:0
        END_TRY
.np_call:
        CHECK_FAULT 11, SEL_NPCODE, "far call to a not-present code segment: #NP(selector)"
        TRY .np_ds
        mov ax, SEL_NPDATA
        mov ds, ax
        END_TRY
.np_ds:
        CHECK_FAULT 11, SEL_NPDATA, "loading a not-present data segment into DS: #NP(selector)"
        TRY .xonly_ds
        mov ax, SEL_XONLY
        mov ds, ax
        END_TRY
.xonly_ds:
        CHECK_FAULT 13, SEL_XONLY, "loading an execute-only code segment into DS: #GP(selector)"
        TRY .ro_ss
        mov ax, SEL_RODATA
        mov ss, ax
        END_TRY
.ro_ss:
        CHECK_FAULT 13, SEL_RODATA, "loading a read-only data segment into SS: #GP(selector)"
        TRY .np_ss
        mov ax, SEL_NPDATA
        mov ss, ax
        END_TRY
.np_ss:
        CHECK_FAULT 12, SEL_NPDATA, "loading a not-present data segment into SS: #SS(selector)"
        TRY .null_ss
        xor eax, eax
        mov ss, ax
        END_TRY
.null_ss:
        CHECK_FAULT 13, 0, "loading a null selector into SS at CPL 0: #GP(0)"
        TRY .write_cs
        mov dword [cs:SCRATCH], 1
        END_TRY
.write_cs:
        CHECK_FAULT 13, 0, "writing through a CS override (code segment): #GP(0)"
        TRY .null_ds_use
        xor eax, eax
        mov ds, ax
        mov eax, [SCRATCH]
        END_TRY
.null_ds_use:
        CHECK_FAULT 13, 0, "loading null into DS is allowed, using it faults with #GP(0)"
        ret

; ---------------------------------------------------------------------------------------
test_conforming:
        mov dword [U_CS], 0
        RING3_TRY r3_conforming, VEC_BACK, 0, "far call from CPL 3 into a conforming DPL 0 code segment succeeds"
        CHECK [U_CS], SEL_CONF | 3, "inside the conforming segment CS.RPL = CPL = 3"
        CHECK [fault_cs], SEL_UCODE, "retf from the conforming segment returns to the ring-3 segment"
        ret

conf_fn:
        xor eax, eax
        mov ax, cs
        mov [ss:U_CS], eax
        retf

; ---------------------------------------------------------------------------------------
ALLOWED_PORT    equ 0x80
DENIED_PORT     equ 0x84

test_io_bitmap:
        and byte [TSS_IOMAP + ALLOWED_PORT / 8], ~(1 << (ALLOWED_PORT % 8)) & 0xFF
        RING3_TRY r3_io_allowed, VEC_BACK, 0, "CPL 3, IOPL 0: out to a port the TSS I/O bitmap allows"
        RING3_TRY r3_io_in, VEC_BACK, 0, "CPL 3, IOPL 0: in from the allowed port"
        RING3_TRY r3_io_denied, 13, 0, "CPL 3, IOPL 0: out to a port the bitmap denies: #GP(0)"
        RING3_TRY r3_io_word, 13, 0, "CPL 3, IOPL 0: 16-bit out at the allowed port whose second port is denied: #GP(0)"
        TRY .iopl3
        RING3 r3_iopl3, EFL_RESERVED1 | EFL_IOPL3
.iopl3:
        CHECK_FAULT VEC_BACK, 0, "CPL 3 with IOPL 3: cli, sti and out to a denied port all run"
        ret

; ---------------------------------------------------------------------------------------
test_lar_lsl_verr:
        mov bx, SEL_KCODE
        mov eax, 0x12345678
        lar eax, bx
        ZF_TO_ECX
        and eax, 0x00F0FF00
        CHECK eax, 0x00C09B00, "lar on the ring-0 code selector: access rights 0x00C09B00"
        CHECK ecx, 1, "lar on the ring-0 code selector sets ZF"
        xor ebx, ebx
        mov eax, 0x12345678
        lar eax, bx
        ZF_TO_ECX
        CHECK ecx, 0, "lar on the null selector clears ZF"
        CHECK eax, 0x12345678, "lar on the null selector leaves the destination alone"
        mov bx, SEL_TSS
        lar eax, bx
        ZF_TO_ECX
        and eax, 0x00F0FF00
        CHECK eax, 0x00008B00, "lar on the busy 32-bit TSS: access rights 0x00008B00"
        CHECK ecx, 1, "lar on the TSS sets ZF"
        mov bx, SEL_KDATA
        lsl eax, bx
        ZF_TO_ECX
        CHECK eax, 0xFFFFFFFF, "lsl on the flat 4 KiB-granular data segment: 0xFFFFFFFF"
        CHECK ecx, 1, "lsl on a data segment sets ZF"
        mov bx, SEL_LIM1234
        lsl eax, bx
        CHECK eax, 0x1234, "lsl on a byte-granular segment: its limit 0x1234"
        mov bx, SEL_CGATE
        mov eax, 0x5555
        lsl eax, bx
        ZF_TO_ECX
        CHECK ecx, 0, "lsl on a call gate clears ZF"
        mov bx, SEL_KCODE
        verr bx
        ZF_TO_ECX
        CHECK ecx, 1, "verr on readable code: ZF=1"
        mov bx, SEL_XONLY
        verr bx
        ZF_TO_ECX
        CHECK ecx, 0, "verr on execute-only code: ZF=0"
        mov bx, SEL_KCODE
        verw bx
        ZF_TO_ECX
        CHECK ecx, 0, "verw on code: ZF=0"
        mov bx, SEL_KDATA
        verw bx
        ZF_TO_ECX
        CHECK ecx, 1, "verw on writable data: ZF=1"
        mov bx, SEL_RODATA
        verw bx
        ZF_TO_ECX
        CHECK ecx, 0, "verw on read-only data: ZF=0"
        mov ax, 0x0008
        mov bx, 0x0003
        arpl ax, bx
        ZF_TO_ECX
        movzx eax, ax
        CHECK eax, 0x000B, "arpl raises the destination RPL 0 to the source RPL 3"
        CHECK ecx, 1, "arpl that adjusts sets ZF"
        mov ax, 0x000B
        mov bx, 0x0001
        arpl ax, bx
        ZF_TO_ECX
        movzx eax, ax
        CHECK eax, 0x000B, "arpl leaves a destination whose RPL is already higher"
        CHECK ecx, 0, "arpl that does not adjust clears ZF"
        RING3_TRY r3_lar, VEC_BACK, 0, "lar/verr probes at CPL 3 run without faulting"
        CHECK [R3_RESULTS + 0], 0, "lar at CPL 3 on a DPL 0 data segment: ZF=0"
        CHECK [R3_RESULTS + 4], 1, "lar at CPL 3 on a conforming DPL 0 code segment: ZF=1 (no privilege check)"
        CHECK [R3_RESULTS + 8], 0, "verr at CPL 3 on a DPL 0 data segment: ZF=0"
        CHECK [R3_RESULTS + 12], 1, "verr at CPL 3 on a DPL 3 data segment: ZF=1"
        ret

; ---------------------------------------------------------------------------------------
test_expand_down:
        TRY .inside32
        mov ax, SEL_EXPDN32
        mov es, ax
        mov eax, [es:0x1000]
        END_TRY
.inside32:
        CHECK_NO_FAULT "expand-down segment, limit 0xFFF, B=1: dword at 0x1000 is inside"
        TRY .at_limit32
        mov ax, SEL_EXPDN32
        mov es, ax
        mov eax, [es:0xFFF]
        END_TRY
.at_limit32:
        CHECK_FAULT 13, 0, "expand-down segment: dword at 0xFFF (offsets up to the limit are outside): #GP(0)"
        TRY .top32
        mov ax, SEL_EXPDN32
        mov es, ax
        mov al, [es:0xFFFFFFFF]
        END_TRY
.top32:
        CHECK_NO_FAULT "expand-down segment with B=1: the byte at 0xFFFFFFFF is inside"
        TRY .top16
        mov ax, SEL_EXPDN16
        mov es, ax
        mov al, [es:0xFFFF]
        END_TRY
.top16:
        CHECK_NO_FAULT "expand-down segment with B=0: the byte at 0xFFFF is inside"
        TRY .above16
        mov ax, SEL_EXPDN16
        mov es, ax
        mov al, [es:0x10000]
        END_TRY
.above16:
        CHECK_FAULT 13, 0, "expand-down segment with B=0: offset 0x10000 is above the 64 KiB bound: #GP(0)"
        TRY .stack
        mov ax, SEL_EXPDN32
        mov ss, ax
        mov eax, [ss:0xFFF]
        END_TRY
.stack:
        CHECK_FAULT 12, 0, "SS = expand-down segment: an access at its limit faults with #SS(0)"
        ret

; ---------------------------------------------------------------------------------------
test_limits:
        TRY .last_dword
        mov ax, SEL_SMALL
        mov fs, ax
        mov eax, [fs:0xFFC]
        END_TRY
.last_dword:
        CHECK_NO_FAULT "limit 0xFFF: the dword at 0xFFC..0xFFF is inside"
        TRY .crossing_dword
        mov ax, SEL_SMALL
        mov fs, ax
        mov eax, [fs:0xFFD]
        END_TRY
.crossing_dword:
        CHECK_FAULT 13, 0, "limit 0xFFF: a dword at 0xFFD crosses the limit: #GP(0)"
        TRY .last_byte
        mov ax, SEL_SMALL
        mov fs, ax
        mov al, [fs:0xFFF]
        END_TRY
.last_byte:
        CHECK_NO_FAULT "limit 0xFFF: the byte at 0xFFF is inside"
        TRY .past_byte
        mov ax, SEL_SMALL
        mov fs, ax
        mov al, [fs:0x1000]
        END_TRY
.past_byte:
        CHECK_FAULT 13, 0, "limit 0xFFF: the byte at 0x1000 is outside: #GP(0)"
        TRY .crossing_word
        mov ax, SEL_SMALL
        mov fs, ax
        mov word [fs:0xFFF], 0
        END_TRY
.crossing_word:
        CHECK_FAULT 13, 0, "limit 0xFFF: a word write at 0xFFF crosses the limit: #GP(0)"
        ret

; ---------------------------------------------------------------------------------------
test_ldt:
        mov dword [LDT_BASE], 0x0000FFFF            ; entry 0: base 0x10000, limit 0xFFFF,
        mov dword [LDT_BASE + 4], 0x00409301        ; data DPL 0, B=1
        mov dword [LDT_BASE + 8], 0
        mov dword [LDT_BASE + 12], 0
        mov dword [0x10000], LDT_MAGIC
        mov ax, SEL_LDT
        lldt ax
        xor eax, eax
        sldt ax
        CHECK eax, SEL_LDT, "lldt/sldt: LDTR holds the LDT selector"
        mov bx, SEL_LDT
        lar eax, bx
        and eax, 0x00F0FF00
        CHECK eax, 0x00008200, "lar on the LDT descriptor: type 2, present"
        TRY .ldt_data
        mov ax, LSEL_DATA
        mov es, ax
        mov eax, [es:0]
        mov [SCRATCH + 0x100], eax
        END_TRY
.ldt_data:
        CHECK_NO_FAULT "loading ES with an LDT selector (TI=1) works"
        CHECK [SCRATCH + 0x100], LDT_MAGIC, "the LDT segment's base 0x10000 applies"
        TRY .beyond
        mov ax, LSEL_BEYOND
        mov es, ax
        END_TRY
.beyond:
        CHECK_FAULT 13, LSEL_BEYOND, "an LDT selector beyond the LDT limit: #GP(selector)"
        TRY .not_ldt
        mov ax, SEL_KDATA
        lldt ax
        END_TRY
.not_ldt:
        CHECK_FAULT 13, SEL_KDATA, "lldt with a data segment selector: #GP(selector)"
        xor eax, eax
        lldt ax
        TRY .null_ldt
        mov ax, LSEL_DATA
        mov es, ax
        END_TRY
.null_ldt:
        CHECK_FAULT 13, LSEL_DATA, "with a null LDTR, loading a TI=1 selector: #GP(selector)"
        ret

; ---------------------------------------------------------------------------------------
test_bad_returns:
        TRY .iret_rpl
        push dword SEL_UDATA
        push dword USTACK_TOP
        push dword EFL_RESERVED1
        push dword SEL_KCODE | 3        ; RPL 3 on a DPL 0 non-conforming segment
        push dword r3_report
        iretd
.iret_rpl:
        CHECK_FAULT 13, SEL_KCODE, "iret to CS with RPL 3 but DPL 0: #GP(selector)"
        RING3_TRY r3_retf_inner, 13, SEL_KCODE, "retf from CPL 3 to a ring-0 selector (inner level): #GP(selector)"
        ret

; ---------------------------------------------------------------------------------------
test_popf_cpl3:
        TRY .iopl0
        RING3 r3_popf, EFL_RESERVED1
.iopl0:
        mov eax, [U_ESP]
        and eax, EFL_IF | EFL_IOPL3 | EFL_CF
        CHECK eax, EFL_CF, "popf at CPL 3 with IOPL 0 changes CF but neither IF nor IOPL"
        CHECK [fault_vec], VEC_BACK, "popf at CPL 3 does not fault"
        TRY .iopl3
        RING3 r3_popf, EFL_RESERVED1 | EFL_IOPL3
.iopl3:
        mov eax, [U_ESP]
        and eax, EFL_IF | EFL_IOPL3 | EFL_CF
        CHECK eax, EFL_IF | EFL_IOPL3 | EFL_CF, "popf at CPL 3 with IOPL 3 changes IF, not IOPL"
        ret

; ---------------------------------------------------------------------------------------
; 16-bit gates push 16-bit frames. Their offsets are 16 bits, so the targets run in
; SEL_KCODE_F (base 0xF0000) at label - 0xF0000.
%define LOW16(label) (((label) - $$ + ROM_BASE) & 0xFFFF)

test_16bit_gates:
        IDT_GATE VEC_INT16, SEL_KCODE_F, gate16_handler - REAL_CS_BASE, GATE_INT16 | GATE_DPL3
        TRY .int16
        RING3 r3_int16, EFL_RESERVED1 | EFL_IF
.int16:
        CHECK [G16_CS], SEL_KCODE_F, "int through a 16-bit interrupt gate from CPL 3 reaches its handler"
        CHECK [G16_ESP], TSS_ESP0 - 10, "16-bit interrupt gate: 5 words (IP CS FLAGS SP SS) on the TSS.ESP0 stack"
        movzx eax, word [G16_FRAME + 0]
        CHECK eax, LOW16(r3_int16.after_int), "16-bit interrupt gate frame: IP (low 16 bits of EIP)"
        movzx eax, word [G16_FRAME + 2]
        CHECK eax, SEL_UCODE, "16-bit interrupt gate frame: CS"
        movzx eax, word [G16_FRAME + 4]
        CHECK eax, EFL_RESERVED1 | EFL_IF, "16-bit interrupt gate frame: FLAGS"
        movzx eax, word [G16_FRAME + 6]
        CHECK eax, USTACK_TOP & 0xFFFF, "16-bit interrupt gate frame: SP"
        movzx eax, word [G16_FRAME + 8]
        CHECK eax, SEL_UDATA, "16-bit interrupt gate frame: SS"
        GDT_GATE SEL_CGATE16, SEL_KCODE_F, gate16_handler - REAL_CS_BASE, GATE_CALL16 | GATE_DPL3, 1
        mov dword [G16_CS], 0
        TRY .call16
        RING3 r3_call16
.call16:
        CHECK [G16_CS], SEL_KCODE_F, "far call through a 16-bit call gate from CPL 3 reaches its target"
        CHECK [G16_ESP], TSS_ESP0 - 10, "16-bit call gate, 1 parameter: SS SP param CS IP as 5 words"
        movzx eax, word [G16_FRAME + 0]
        CHECK eax, LOW16(r3_call16.after_call), "16-bit call gate frame: IP"
        movzx eax, word [G16_FRAME + 4]
        CHECK eax, 0x1234, "16-bit call gate frame: the word parameter copied"
        movzx eax, word [G16_FRAME + 6]
        CHECK eax, (USTACK_TOP - 2) & 0xFFFF, "16-bit call gate frame: caller's SP (below the parameter)"
        ret

; gate16_handler (CS = SEL_KCODE_F, base 0xF0000): record ESP, CS and 10 bytes of frame,
; then resume the TRY through the flat code segment.
gate16_handler:
        mov [ss:G16_ESP], esp
        mov eax, [esp]
        mov [ss:G16_FRAME], eax
        mov eax, [esp + 4]
        mov [ss:G16_FRAME + 4], eax
        movzx eax, word [esp + 8]
        mov [ss:G16_FRAME + 8], eax
        xor eax, eax
        mov ax, cs
        mov [ss:G16_CS], eax
        jmp SEL_KCODE:resume_try

; =======================================================================================
; Ring-3 code (runs at CPL 3 through SEL_UCODE; stores go through SS, which stays usable)

r3_report:
        mov eax, 0                      ; (keeps the flags the frame check expects)
        mov ax, cs
        mov [ss:U_CS], eax
        mov ax, ss
        mov [ss:U_SS], eax
        int VEC_BACK
.after_int:
        ud2

r3_callgate:
        push dword 0x11111111
        push dword 0x22222222
        call SEL_CGATE | 3:0
.after_call:
        mov [ss:U_ESP], esp
        xor eax, eax
        mov ax, cs
        mov [ss:U_CS], eax
        mov ax, ds
        mov [ss:U_DS], eax
        mov ax, es
        mov [ss:U_ES], eax
        mov ax, fs
        mov [ss:U_FS], eax
        mov ax, gs
        mov [ss:U_GS], eax
.use_ds:
        mov eax, [SCRATCH]              ; DS is null now
        int VEC_BACK

r3_iret_null:
        int VEC_IRET_NULL
        mov eax, 0
        mov ax, ds
        mov [ss:U_DS], eax
        mov ax, es
        mov [ss:U_ES], eax
        mov ax, fs
        mov [ss:U_FS], eax
        mov ax, gs
        mov [ss:U_GS], eax
        int VEC_BACK

r3_retf_inner:
        push dword SEL_KCODE
        push dword r3_report
        retf
        int VEC_BACK

; r3_popf: popfd an image with IF and CF set and the IOPL bits opposite to the current
; ones (3 when entered with IOPL 0, 0 when entered with IOPL 3); store the resulting
; EFLAGS in U_ESP.
r3_popf:
        pushfd
        pop eax
        and eax, EFL_IOPL3              ; keep the current IOPL bits...
        xor eax, EFL_IOPL3              ; ...inverted: the image asks for the other IOPL
        or eax, EFL_RESERVED1 | EFL_IF | EFL_CF
        push eax
        popfd
        pushfd
        pop dword [ss:U_ESP]
        int VEC_BACK

r3_int16:
        int VEC_INT16
.after_int:
        int VEC_BACK

r3_call16:
        push word 0x1234
        call SEL_CGATE16 | 3:0
.after_call:
        int VEC_BACK

r3_int31:
        int 0x31
        int VEC_BACK

r3_int32:
        int 0x32
        int VEC_BACK

r3_sysenter:
        mov ecx, USTACK_TOP - 32
        mov edx, .landing
        sysenter
        ud2
.landing:
        xor eax, eax
        mov ax, cs
        mov [ss:U_CS], eax
        mov ax, ss
        mov [ss:U_SS], eax
        int VEC_BACK
.after_back:
        ud2

r3_load_kdata:
        mov ax, SEL_KDATA | 3
.fault:
        mov ds, ax
        int VEC_BACK

r3_int41:
        int 0x41
        int VEC_BACK

r3_hlt:
        hlt
        int VEC_BACK

r3_cli:
        cli
        int VEC_BACK

r3_lgdt:
        lgdt [ram_gdtr]
        int VEC_BACK

r3_mov_cr0:
        xor eax, eax
        mov cr0, eax
        int VEC_BACK

r3_call_kcode:
        call SEL_KCODE:r3_call_kcode
        int VEC_BACK

r3_call_kgate:
        call SEL_KGATE0 | 3:0
        int VEC_BACK

r3_conforming:
        call SEL_CONF:conf_fn
        int VEC_BACK

r3_io_allowed:
        mov al, 0x55
        out ALLOWED_PORT, al
        int VEC_BACK

r3_io_in:
        in al, ALLOWED_PORT
        int VEC_BACK

r3_io_denied:
        mov al, 0x55
        out DENIED_PORT, al
        int VEC_BACK

r3_io_word:
        mov ax, 0x5555
        out ALLOWED_PORT, ax
        int VEC_BACK

r3_iopl3:
        cli
        sti
        mov al, 0x55
        out DENIED_PORT, al
        cli
        int VEC_BACK

r3_lar:
        mov bx, SEL_KDATA
        lar eax, bx
        ZF_TO_ECX
        mov [ss:R3_RESULTS + 0], ecx
        mov bx, SEL_CONF
        lar eax, bx
        ZF_TO_ECX
        mov [ss:R3_RESULTS + 4], ecx
        mov bx, SEL_KDATA
        verr bx
        ZF_TO_ECX
        mov [ss:R3_RESULTS + 8], ecx
        mov bx, SEL_UDATA
        verr bx
        ZF_TO_ECX
        mov [ss:R3_RESULTS + 12], ecx
        int VEC_BACK

text_no_sep:    db "CPUID.01h:EDX.SEP is 0", 0

%include "pm-lib.inc"
%include "pm-end.inc"
