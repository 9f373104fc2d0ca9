; pm-exceptions.asm - the protected-mode exceptions, as TAP over COM1.
;
; Covers (Intel SDM vol. 3A chapter 6, 6.15 per vector): #DE (divide by zero and quotient
; overflow), #DB (single step with TF, the step trap held back by MOV SS, ICEBP/INT1),
; #BP (INT3 and INT 3), #OF (INTO with OF set and clear), #BR (BOUND), #UD (UD2), #NM
; (CR0.TS with an x87 instruction, WAIT with CR0.MP), #DF (a #GP or #PF whose gate is not
; present: contributory + contributory and page fault + contributory, error 0; a benign
; #BP or #DB is followed serially by #NP, with EXT set for the exception), #TS (JMP to a
; TSS whose limit is too small, IRET with NT to a non-TSS back link), #NP (INT n through
; a not-present gate: error vector*8+2), #SS (ring-3 stack load of a not-present segment,
; push past the stack limit), #GP (selector beyond the GDT limit), #PF, #MF (unmasked x87
; divide by zero with CR0.NE=1, delivered at the next waiting x87 instruction), #AC
; (alignment check at CPL 3 with CR0.AM and EFLAGS.AC). Fault vs trap: the saved EIP is
; the faulting instruction for faults and the next instruction for traps.
;
; Exit value 0 when every check passed.

%define GUEST_NAME "pm-exceptions: vectors 0-16, faults and traps"
%define ROM_SIZE 0x4000

%include "pm-defs.inc"

SEL_SMALLTSS    equ 0x30                ; 32-bit TSS with limit 0x40 (< 0x67)
SEL_NPDATA3     equ 0x38                ; DPL 3 data, not present
SEL_USMALL      equ 0x40                ; DPL 3 data at 0x30000, limit 0xFFF

%macro GUEST_GDT 0
        DESC SCRATCH, 0x40, ACC_TSS32, 0                ; SEL_SMALLTSS
        DESC 0, 0xFFFFF, 0x73, FLG_4K_32                ; SEL_NPDATA3 (P=0, DPL 3)
        DESC 0x30000, 0x00FFF, ACC_DATA3, FLG_BYTE_32   ; SEL_USMALL
%endmacro

CR0_MP          equ 0x02
CR0_TS          equ 0x08
CR0_NE          equ 0x20
CR0_PG          equ 0x80000000
DR6_BS          equ 0x4000
VEC_ABSENT      equ 0x50                ; an IDT gate we mark not present
PD              equ 0x20000
PT0             equ 0x21000
PF_PAGE         equ 0x300000            ; not present while paging is on

%include "pm-boot.inc"

main:
        call plan_start
        call test_de
        call test_db
        call test_bp_of
        call test_br_ud
        call test_nm
        call test_np_df
        call test_ts
        call test_ss_gp
        call test_pf
        call test_mf
        call test_ac
        jmp finish

; ---------------------------------------------------------------------------------------
test_de:
        TRY .zero
        xor edx, edx
        mov eax, 1
        xor ecx, ecx
.div_zero:
        div ecx
        END_TRY
.zero:
        CHECK [fault_vec], 0, "div by zero: #DE"
        CHECK [fault_eip], .div_zero, "#DE is a fault: saved EIP is the div"
        TRY .overflow
        mov edx, 2
        xor eax, eax
        mov ecx, 1
.div_big:
        div ecx
        END_TRY
.overflow:
        CHECK [fault_vec], 0, "div whose quotient does not fit: #DE"
        CHECK [fault_eip], .div_big, "quotient overflow #DE: saved EIP is the div"
        ret

; ---------------------------------------------------------------------------------------
test_db:
        xor eax, eax
        mov dr6, eax
        TRY .single_step
        pushfd
        or dword [esp], EFL_TF
        popfd
        nop                             ; runs with TF=1, then #DB
.after_nop:
        nop
        END_TRY
.single_step:
        CHECK [fault_vec], 1, "TF set by popf: #DB after the next instruction"
        CHECK [fault_eip], .after_nop, "single-step #DB is a trap: saved EIP follows that instruction"
        mov eax, dr6
        and eax, DR6_BS
        CHECK eax, DR6_BS, "single-step #DB sets DR6.BS"
        mov eax, [fault_eflags]
        and eax, EFL_TF
        CHECK eax, EFL_TF, "the #DB frame holds EFLAGS with TF set"
        mov eax, [handler_eflags]
        and eax, EFL_TF
        CHECK eax, 0, "the handler runs with TF clear"
        TRY .icebp
        db 0xF1                         ; ICEBP / INT1
.after_icebp:
        END_TRY
.icebp:
        CHECK [fault_vec], 1, "ICEBP (0xF1): #DB"
        CHECK [fault_eip], .after_icebp, "ICEBP #DB is a trap: saved EIP follows it"
        TRY .mov_ss
        mov ax, ss
        pushfd
        or dword [esp], EFL_TF
        popfd
        mov ss, ax                      ; runs with TF=1: its trap is held back...
        nop                             ; ...until this instruction is done
.after_mov_ss_nop:
        nop
        END_TRY
.mov_ss:
        CHECK [fault_vec], 1, "single step over mov ss: #DB"
        CHECK [fault_eip], .after_mov_ss_nop, "mov ss holds the single-step trap back until after the next instruction"
        ret

; ---------------------------------------------------------------------------------------
test_bp_of:
        TRY .int3
        int3
.after_int3:
        END_TRY
.int3:
        CHECK [fault_vec], 3, "int3 (0xCC): #BP"
        CHECK [fault_eip], .after_int3, "#BP is a trap: saved EIP follows int3"
        TRY .int_3
        int 3                           ; the two-byte form
.after_int_3:
        END_TRY
.int_3:
        CHECK [fault_eip], .after_int_3, "int 3 (0xCD 0x03): vector 3, saved EIP follows it"
        TRY .into_set
        mov al, 0x7F
        add al, 1                       ; OF=1
        into
.after_into:
        END_TRY
.into_set:
        CHECK [fault_vec], 4, "into with OF=1: #OF"
        CHECK [fault_eip], .after_into, "#OF is a trap: saved EIP follows into"
        TRY .into_clear
        xor eax, eax                    ; OF=0
        into
        END_TRY
.into_clear:
        CHECK_NO_FAULT "into with OF=0 does nothing"
        ret

; ---------------------------------------------------------------------------------------
test_br_ud:
        TRY .inside
        mov eax, 20
        bound eax, [bounds]
        END_TRY
.inside:
        CHECK_NO_FAULT "bound with the index inside the bounds does nothing"
        TRY .outside
        mov eax, 31
.bound_insn:
        bound eax, [bounds]
        END_TRY
.outside:
        CHECK [fault_vec], 5, "bound with the index above the upper bound: #BR"
        CHECK [fault_eip], .bound_insn, "#BR is a fault: saved EIP is the bound"
        TRY .ud
.ud_insn:
        ud2
        END_TRY
.ud:
        CHECK [fault_vec], 6, "ud2: #UD"
        CHECK [fault_eip], .ud_insn, "#UD is a fault: saved EIP is the ud2"
        ret

bounds: dd 10, 30

; ---------------------------------------------------------------------------------------
test_nm:
        mov eax, cr0
        and eax, ~(CR0_TS | CR0_MP)
        or eax, CR0_NE
        mov cr0, eax
        fninit
        mov eax, cr0
        or eax, CR0_TS
        mov cr0, eax
        TRY .ts
.fpu_insn:
        fld1
        END_TRY
.ts:
        CHECK [fault_vec], 7, "x87 instruction with CR0.TS=1: #NM"
        CHECK [fault_eip], .fpu_insn, "#NM is a fault: saved EIP is the x87 instruction"
        TRY .wait_no_mp
        wait
        END_TRY
.wait_no_mp:
        CHECK_NO_FAULT "wait with CR0.TS=1 but MP=0 does not fault"
        mov eax, cr0
        or eax, CR0_MP
        mov cr0, eax
        TRY .wait_mp
        wait
        END_TRY
.wait_mp:
        CHECK [fault_vec], 7, "wait with CR0.TS=1 and MP=1: #NM"
        clts
        TRY .cleared
        fld1
        fstp st0
        END_TRY
.cleared:
        CHECK_NO_FAULT "after clts the x87 instruction runs"
        ret

; ---------------------------------------------------------------------------------------
test_np_df:
        and byte [IDT_BASE + 8 * VEC_ABSENT + 5], 0x7F  ; gate P=0
        TRY .np_gate
        int VEC_ABSENT
        END_TRY
.np_gate:
        CHECK_FAULT 11, VEC_ABSENT * 8 + 2, "int n through a not-present gate: #NP(vector*8+2)"
        and byte [IDT_BASE + 8 * 13 + 5], 0x7F          ; #GP gate not present
        TRY .df
        mov ax, 0x400                   ; beyond the GDT limit: #GP, whose gate gives #NP
        mov ds, ax
        END_TRY
.df:
        or byte [IDT_BASE + 8 * 13 + 5], 0x80           ; #GP gate back
        CHECK_FAULT 8, 0, "#GP whose gate is not present (#NP): contributory twice gives #DF(0)"
        and byte [IDT_BASE + 8 * 3 + 5], 0x7F           ; #BP gate not present
        TRY .bp_np
        int3
        END_TRY
.bp_np:
        or byte [IDT_BASE + 8 * 3 + 5], 0x80
        CHECK_FAULT 11, 3 * 8 + 2, "int3 through a not-present gate: #NP(3*8+2), EXT clear (benign first: no #DF)"
        and byte [IDT_BASE + 8 * 1 + 5], 0x7F           ; #DB gate not present
        TRY .db_np
        pushfd
        or dword [esp], EFL_TF
        popfd
        nop
        nop
        END_TRY
.db_np:
        or byte [IDT_BASE + 8 * 1 + 5], 0x80
        CHECK_FAULT 11, 1 * 8 + 2 + 1, "single-step #DB through a not-present gate: #NP(1*8+2+EXT)"
        ret

; ---------------------------------------------------------------------------------------
test_ts:
        TRY .small
        jmp SEL_SMALLTSS:0
        END_TRY
.small:
        CHECK_FAULT 10, SEL_SMALLTSS, "jmp to a 32-bit TSS whose limit is below 0x67: #TS(selector)"
        mov word [TSS_BASE], SEL_KDATA  ; back link: not a TSS
        TRY .backlink
        pushfd
        or dword [esp], EFL_NT
        popfd
        iretd                           ; NT=1: task return through the back link
        END_TRY
.backlink:
        mov word [TSS_BASE], 0
        CHECK_FAULT 10, SEL_KDATA, "iret with NT=1 and a back link that is not a TSS: #TS(back link)"
        ret

; ---------------------------------------------------------------------------------------
test_ss_gp:
        RING3_TRY r3_load_np_ss, 12, SEL_NPDATA3, "CPL 3 loads a not-present stack segment: #SS(selector)"
        RING3_TRY r3_push_past_limit, 12, 0, "CPL 3 push whose bytes cross the stack segment limit: #SS(0)"
        TRY .beyond_gdt
        mov ax, 0x400
        mov es, ax
        END_TRY
.beyond_gdt:
        CHECK_FAULT 13, 0x400, "loading a selector beyond the GDT limit: #GP(selector)"
        ret

; ---------------------------------------------------------------------------------------
test_pf:
        mov edi, PD
        mov ecx, 2048
        xor eax, eax
        rep stosd
        mov edi, PT0
        mov eax, 0x7
        mov ecx, 1024
.pte:
        stosd
        add eax, 0x1000
        loop .pte
        mov dword [PT0 + (PF_PAGE >> 12) * 4], 0
        mov dword [PD], PT0 | 0x7
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        TRY .pf
.pf_insn:
        mov dword [PF_PAGE + 0x24], 1
        END_TRY
.pf:
        mov eax, cr0
        and eax, ~CR0_PG
        mov cr0, eax
        CHECK_FAULT 14, 2, "write to a not-present page: #PF with error code W"
        CHECK [fault_cr2], PF_PAGE + 0x24, "#PF: CR2 holds the address"
        CHECK [fault_eip], .pf_insn, "#PF is a fault: saved EIP is the access"
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        and byte [IDT_BASE + 8 * 14 + 5], 0x7F          ; #PF gate not present
        TRY .pf_df
        mov eax, [PF_PAGE]
        END_TRY
.pf_df:
        or byte [IDT_BASE + 8 * 14 + 5], 0x80
        mov eax, cr0
        and eax, ~CR0_PG
        mov cr0, eax
        CHECK_FAULT 8, 0, "#PF whose gate is not present (#NP): page fault then contributory gives #DF(0)"
        ret

; ---------------------------------------------------------------------------------------
test_mf:
        fninit
        fldcw [fpu_cw_zm_clear]         ; unmask zero-divide
        fld1
        fldz
        fdivp st1, st0                  ; 1/0: ZE pending, no exception yet
        TRY .mf
        mov eax, 1                      ; a non-x87 instruction does not deliver it
.wait_insn:
        fwait
        END_TRY
.mf:
        fnstsw ax
        movzx eax, ax
        mov [u_var(0)], eax
        fninit
        CHECK [fault_vec], 16, "unmasked x87 divide by zero with CR0.NE=1: #MF at the next waiting instruction"
        CHECK [fault_eip], .wait_insn, "#MF: saved EIP is the waiting instruction, not the fdiv"
        mov eax, [u_var(0)]
        and eax, 0x0084                 ; ES and ZE
        CHECK eax, 0x0084, "the status word shows ES and ZE"
        ret

fpu_cw_zm_clear: dw 0x037B              ; default 0x037F with ZM (bit 2) cleared

; ---------------------------------------------------------------------------------------
EFL_AC          equ 0x40000
CR0_AM          equ 0x40000

test_ac:
        pushfd
        pop ecx
        mov eax, ecx
        xor eax, EFL_AC
        push eax
        popfd
        pushfd
        pop eax
        push ecx
        popfd
        xor eax, ecx
        CHECK eax, EFL_AC, "EFLAGS.AC can be toggled (a 486 or later)"
        mov eax, cr0
        or eax, CR0_AM
        mov cr0, eax
        TRY .ring0
        pushfd
        or dword [esp], EFL_AC
        popfd
        mov eax, [SCRATCH + 1]
        END_TRY
.ring0:
        pushfd                          ; AC off again
        and dword [esp], ~EFL_AC
        popfd
        CHECK_NO_FAULT "misaligned access at CPL 0 with CR0.AM and EFLAGS.AC: no #AC"
        TRY .ring3
        RING3 r3_misaligned, EFL_RESERVED1 | EFL_AC
.ring3:
        mov eax, cr0
        and eax, ~CR0_AM
        mov cr0, eax
        CHECK_FAULT 17, 0, "misaligned dword read at CPL 3 with CR0.AM and EFLAGS.AC: #AC(0)"
        CHECK [fault_eip], r3_misaligned.access, "#AC is a fault: saved EIP is the access"
        ret

; =======================================================================================
; Ring-3 code
r3_load_np_ss:
        mov ax, SEL_NPDATA3 | 3
        mov ss, ax
        int VEC_BACK

r3_misaligned:
        mov eax, [SCRATCH]              ; aligned: fine
.access:
        mov eax, [SCRATCH + 2]
        int VEC_BACK

r3_push_past_limit:
        mov ax, SEL_USMALL | 3
        mov ss, ax
        mov esp, 0x1002                 ; a dword push writes 0xFFE..0x1001: past the limit
        push eax
        int VEC_BACK

%include "pm-lib.inc"
%include "pm-end.inc"
