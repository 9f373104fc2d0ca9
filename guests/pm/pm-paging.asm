; pm-paging.asm - 32-bit paging, as TAP over COM1.
;
; Covers (Intel SDM vol. 3A chapter 4): an identity map with 4 KiB pages; #PF error codes
; and CR2 for not-present reads, writes and fetches (PTE and PDE level), user access to a
; supervisor page (PTE and PDE U/S), user write to a read-only page, supervisor write to
; a read-only page with CR0.WP=0 (allowed) and WP=1 (fault); accessed/dirty bits (A after
; a read, D only after a write, neither after a faulting write); 4 MiB pages with
; CR4.PSE; PAE with a 2 MiB page, a remapped 4 KiB page and a reserved bit; INVLPG, CR3
; reloads and CR4.PGE toggles making changed PTEs visible; a global page surviving a CR3
; reload until INVLPG; accesses split across a page boundary (CR2, no partial write); a
; REP MOVSB faulting part way (registers show the progress);
; the PS bit ignored while CR4.PSE=0. A stale non-global TLB entry is never relied on.
;
; Exit value 0 when every check passed.

%define GUEST_NAME "pm-paging: 4 KiB, 4 MiB and PAE paging"
%define ROM_SIZE 0x4000

%include "pm-defs.inc"

PD              equ 0x20000             ; page directory (non-PAE)
PT0             equ 0x21000             ; 0..4 MiB, identity, user + writable
PT1             equ 0x22000             ; 4..8 MiB, identity; its PDE is supervisor-only
PDPT            equ 0x23000             ; PAE page-directory-pointer table
PAE_PD          equ 0x24000
PAE_PT          equ 0x25000             ; PAE 0..2 MiB

PG_P            equ 0x001
PG_RW           equ 0x002
PG_US           equ 0x004
PG_A            equ 0x020
PG_D            equ 0x040
PG_PS           equ 0x080
PG_G            equ 0x100
PG_URW          equ PG_P | PG_RW | PG_US

CR0_PG          equ 0x80000000
CR0_WP          equ 0x00010000
CR4_PSE         equ 0x10
CR4_PAE         equ 0x20
CR4_PGE         equ 0x80

PF_P            equ 1                   ; error code bits
PF_W            equ 2
PF_U            equ 4
PF_RSVD         equ 8

; Test pages (linear = physical unless remapped)
P_NP            equ 0x200000            ; not present
P_SUP           equ 0x201000            ; supervisor, writable
P_RO            equ 0x202000            ; user, read-only
P_AD            equ 0x203000            ; user, writable, A=D=0 at first
P_G             equ 0x204000            ; global-page test address
FRAME_A         equ 0x205000            ; frames holding MAGIC_A / MAGIC_B
FRAME_B         equ 0x206000
P_RO2           equ 0x207000            ; user, read-only, A=D=0 (faulting write)
P_X             equ 0x208000            ; INVLPG / CR3 test address (not global)
MAGIC_A         equ 0xAAAA1111
MAGIC_B         equ 0xBBBB2222

BIG_VIRT        equ 0x800000            ; PD[2]: 4 MiB page -> physical 0x400000
BIG_PHYS        equ 0x400000
MAGIC_BIG       equ 0x4B1C4B1C
NO_PDE          equ 0xC00000            ; PD[3] not present

PAE_2M_VIRT     equ 0x200000            ; PAE_PD[1]: 2 MiB page -> physical 0x400000
PAE_4K_VIRT     equ 0x1F0000            ; PAE_PT[0x1F0] -> physical 0x402000
PAE_4K_PHYS     equ 0x402000
PAE_RSVD_VIRT   equ 0x1F1000            ; PAE_PT[0x1F1] has reserved bit 63 set
MAGIC_2M        equ 0x2222BEEF
MAGIC_4K        equ 0x4444CAFE

%include "pm-boot.inc"

; PTE_ADDR lin: the address of the non-PAE PTE mapping `lin` (0..8 MiB).
%define PTE_ADDR(lin) (PT0 + ((lin) >> 12) * 4)

; SET_PTE lin, value: write the PTE for `lin` and invalidate its TLB entry.
%macro SET_PTE 2
        mov dword [PTE_ADDR(%1)], %2
        invlpg [%1]
%endmacro

main:
        call plan_start
        call build_tables
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        jmp .paged                      ; (identity mapped: execution continues)
.paged:
        mov eax, cr0
        and eax, CR0_PG
        CHECK eax, CR0_PG, "paging is on and the identity-mapped code keeps running"
        call test_not_present
        call test_protection
        call test_accessed_dirty
        call test_big_pages
        call test_tlb_control
        call test_pae
        jmp finish

; build_tables: PT0/PT1 identity maps (user, writable, A=D=0), the special PTEs, PD[0]
; user, PD[1] supervisor-only, PD[2] a 4 MiB page, PD[3] absent; the magic values.
build_tables:
        mov edi, PD
        mov ecx, 1024 * 3
        xor eax, eax
        rep stosd
        mov edi, PT0
        mov eax, PG_URW
        mov ecx, 2048                   ; PT0 and PT1 are contiguous
.pte:
        stosd
        add eax, 0x1000
        loop .pte
        mov dword [PD + 0], PT0 | PG_URW
        mov dword [PD + 4], PT1 | PG_P | PG_RW
        mov dword [PD + 8], BIG_PHYS | PG_PS | PG_URW
        mov dword [PTE_ADDR(P_NP)], 0
        mov dword [PTE_ADDR(P_SUP)], P_SUP | PG_P | PG_RW
        mov dword [PTE_ADDR(P_RO)], P_RO | PG_P | PG_US
        mov dword [PTE_ADDR(P_RO2)], P_RO2 | PG_P | PG_US
        mov dword [FRAME_A], MAGIC_A
        mov dword [FRAME_B], MAGIC_B
        mov dword [BIG_PHYS + 0x10], MAGIC_BIG
        ret

; ---------------------------------------------------------------------------------------
test_not_present:
        TRY .read
.read_insn:
        mov eax, [P_NP + 0x123]
        END_TRY
.read:
        CHECK_FAULT 14, 0, "read of a not-present page: #PF, error code 0"
        CHECK [fault_cr2], P_NP + 0x123, "read of a not-present page: CR2 = the linear address"
        CHECK [fault_eip], .read_insn, "#PF is a fault: saved EIP is the faulting instruction"
        TRY .write
        mov dword [P_NP + 0x456], 1
        END_TRY
.write:
        CHECK_FAULT 14, PF_W, "write to a not-present page: #PF, error code W"
        CHECK [fault_cr2], P_NP + 0x456, "write to a not-present page: CR2"
        TRY .fetch
        jmp P_NP + 0x10
.fetch:
        CHECK_FAULT 14, 0, "instruction fetch from a not-present page: #PF, error code 0"
        CHECK [fault_eip], P_NP + 0x10, "instruction fetch fault: saved EIP is the target"
        CHECK [fault_cr2], P_NP + 0x10, "instruction fetch fault: CR2 is the target"
        TRY .no_pde
        mov eax, [NO_PDE + 0x789]
        END_TRY
.no_pde:
        CHECK_FAULT 14, 0, "read through a not-present PDE: #PF, error code 0"
        CHECK [fault_cr2], NO_PDE + 0x789, "read through a not-present PDE: CR2"
        TRY .split
        mov eax, [P_NP - 2]
        END_TRY
.split:
        CHECK_FAULT 14, 0, "dword read whose last 2 bytes are on a not-present page: #PF"
        CHECK [fault_cr2], P_NP, "split read: CR2 is the first address on the not-present page"
        mov dword [FRAME_A + 4], 0      ; source bytes: 11 11 AA AA 00 00 ...
        TRY .rep
        mov esi, FRAME_A
        mov edi, P_NP - 5
        mov ecx, 10
        cld
.rep_insn:
        rep movsb
        END_TRY
.rep:
        mov [u_var(0)], ecx             ; (registers as the fault left them)
        mov [u_var(1)], esi
        mov [u_var(2)], edi
        CHECK_FAULT 14, PF_W, "rep movsb running into a not-present page: #PF, error code W"
        CHECK [fault_eip], .rep_insn, "rep movsb #PF: saved EIP is the rep movsb"
        CHECK [u_var(0)], 5, "rep movsb #PF: ECX counts the 5 bytes not yet copied"
        CHECK [u_var(1)], FRAME_A + 5, "rep movsb #PF: ESI points at the next source byte"
        CHECK [u_var(2)], P_NP, "rep movsb #PF: EDI points at the faulting destination byte"
        CHECK [fault_cr2], P_NP, "rep movsb #PF: CR2 is the faulting destination byte"
        mov eax, [P_NP - 4]
        CHECK eax, MAGIC_A >> 8, "rep movsb #PF: the 5 bytes before the fault were copied"
        ret

; ---------------------------------------------------------------------------------------
test_protection:
        RING3_TRY r3_read_sup, 14, PF_P | PF_U, "user read of a supervisor page: #PF, error code P|U"
        CHECK [fault_cr2], P_SUP + 8, "user read of a supervisor page: CR2"
        CHECK [fault_frame], TSS_ESP0 - 20, "#PF from CPL 3 is delivered on the TSS.ESP0 stack"
        RING3_TRY r3_read_pde_sup, 14, PF_P | PF_U, "user read through a supervisor-only PDE: #PF, error code P|U"
        RING3_TRY r3_fetch_sup, 14, PF_P | PF_U, "user instruction fetch from a supervisor page: #PF, error code P|U"
        CHECK [fault_eip], P_SUP, "user fetch fault: saved EIP is the supervisor page"
        RING3_TRY r3_read_ro, VEC_BACK, 0, "user read of a user read-only page works"
        RING3_TRY r3_write_ro, 14, PF_P | PF_W | PF_U, "user write to a read-only page: #PF, error code P|W|U"
        CHECK [fault_cr2], P_RO + 4, "user write to a read-only page: CR2"
        TRY .wp0
        mov dword [P_RO + 12], 0x1234
        END_TRY
.wp0:
        CHECK_NO_FAULT "supervisor write to a read-only page with CR0.WP=0 is allowed"
        CHECK [P_RO + 12], 0x1234, "that write landed"
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        TRY .wp1
        mov dword [P_RO + 16], 0x5678
        END_TRY
.wp1:
        CHECK_FAULT 14, PF_P | PF_W, "supervisor write to a read-only page with CR0.WP=1: #PF, error code P|W"
        CHECK [fault_cr2], P_RO + 16, "CR0.WP=1 write fault: CR2"
        mov dword [P_RO - 4], 0x11223344   ; the last dword of the writable page before it
        TRY .split_write
        mov dword [P_RO - 2], 0xAABBCCDD
        END_TRY
.split_write:
        CHECK_FAULT 14, PF_P | PF_W, "dword write straddling into a read-only page (WP=1): #PF, error code P|W"
        CHECK [fault_cr2], P_RO, "split write: CR2 is the first address on the read-only page"
        CHECK [P_RO - 4], 0x11223344, "the faulting split write changed nothing on the writable page"
        mov eax, cr0
        and eax, ~CR0_WP
        mov cr0, eax
        ret

; ---------------------------------------------------------------------------------------
test_accessed_dirty:
        SET_PTE P_AD, P_AD | PG_URW
        mov eax, [P_AD]
        mov eax, [PTE_ADDR(P_AD)]
        and eax, PG_A | PG_D
        CHECK eax, PG_A, "after a read the PTE has A set and D clear"
        mov dword [P_AD], 1
        mov eax, [PTE_ADDR(P_AD)]
        and eax, PG_A | PG_D
        CHECK eax, PG_A | PG_D, "after a write the PTE has A and D set"
        mov eax, [PD + 0]
        and eax, PG_A
        CHECK eax, PG_A, "the PDE used for those accesses has A set"
        RING3_TRY r3_write_ro2, 14, PF_P | PF_W | PF_U, "user write to a fresh read-only page faults"
        mov eax, [PTE_ADDR(P_RO2)]
        and eax, PG_A | PG_D
        CHECK eax, 0, "a faulting write leaves the PTE's A and D clear"
        ret

; ---------------------------------------------------------------------------------------
test_big_pages:
        mov dword [BIG_PHYS], 0         ; seen as a PTE while CR4.PSE=0: not present
        TRY .no_pse
        mov eax, [BIG_VIRT + 0x10]
        END_TRY
.no_pse:
        CHECK_FAULT 14, 0, "CR4.PSE=0: a PDE's PS bit is ignored (it points at a page table whose PTE is 0)"
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, [BIG_VIRT + 0x10]
        CHECK eax, MAGIC_BIG, "CR4.PSE: a 4 MiB page maps 0x800000 to physical 0x400000"
        mov eax, [PD + 8]
        and eax, PG_A | PG_D
        CHECK eax, PG_A, "4 MiB page: A set after a read, D still clear"
        mov dword [BIG_VIRT + 0x3FFFFC], 0x600DF00D
        mov eax, [PD + 8]
        and eax, PG_A | PG_D
        CHECK eax, PG_A | PG_D, "4 MiB page: D set after a write"
        mov eax, [BIG_PHYS + 0x3FFFFC]
        CHECK eax, 0x600DF00D, "the write through the 4 MiB page reached physical 0x7FFFFC"
        ret

; ---------------------------------------------------------------------------------------
test_tlb_control:
        SET_PTE P_X, FRAME_A | PG_URW
        mov eax, [P_X]
        CHECK eax, MAGIC_A, "a remapped 4 KiB page reads its new frame"
        mov dword [PTE_ADDR(P_X)], FRAME_B | PG_URW
        invlpg [P_X]
        mov eax, [P_X]
        CHECK eax, MAGIC_B, "after changing a PTE, INVLPG makes the new frame visible"
        mov dword [PTE_ADDR(P_X)], FRAME_A | PG_URW
        mov eax, cr3
        mov cr3, eax
        mov eax, [P_X]
        CHECK eax, MAGIC_A, "after changing a non-global PTE, a CR3 reload makes the new frame visible"

        mov eax, cr4
        or eax, CR4_PGE
        mov cr4, eax
        SET_PTE P_G, FRAME_A | PG_URW | PG_G
        mov eax, [P_G]
        CHECK eax, MAGIC_A, "a global page reads its frame"
        mov dword [PTE_ADDR(P_G)], FRAME_B | PG_URW | PG_G
        mov eax, cr3
        mov cr3, eax
        mov eax, [P_G]
        CHECK eax, MAGIC_A, "a global page's translation survives a CR3 reload (CR4.PGE=1)"
        invlpg [P_G]
        mov eax, [P_G]
        CHECK eax, MAGIC_B, "INVLPG drops a global page's translation"
        mov dword [PTE_ADDR(P_G)], FRAME_A | PG_URW | PG_G
        mov eax, cr4
        and eax, ~CR4_PGE
        mov cr4, eax
        or eax, CR4_PGE
        mov cr4, eax
        mov eax, [P_G]
        CHECK eax, MAGIC_A, "toggling CR4.PGE flushes global translations"
        ret

; ---------------------------------------------------------------------------------------
; PAE: paging off, PAE tables, CR4.PAE, CR3 = PDPT, paging on.
test_pae:
        mov eax, cr0
        and eax, ~CR0_PG
        mov cr0, eax
        jmp .unpaged
.unpaged:
        call build_pae_tables
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, PDPT
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        jmp .paged
.paged:
        mov eax, cr4
        and eax, CR4_PAE
        CHECK eax, CR4_PAE, "PAE paging on; the identity-mapped code keeps running"
        mov eax, [PAE_2M_VIRT + 0x100]
        CHECK eax, MAGIC_2M, "PAE: a 2 MiB page maps 0x200000 to physical 0x400000"
        mov eax, [PAE_4K_VIRT + 0x20]
        CHECK eax, MAGIC_4K, "PAE: a 4 KiB page maps 0x1F0000 to physical 0x402000"
        mov dword [PAE_2M_VIRT + 0x200], 1
        mov eax, [PAE_PD + 8]
        and eax, PG_A | PG_D | PG_PS
        CHECK eax, PG_A | PG_D | PG_PS, "PAE 2 MiB page: A and D set after a write"
        TRY .rsvd
        mov eax, [PAE_RSVD_VIRT + 0x40]
        END_TRY
.rsvd:
        CHECK_FAULT 14, PF_P | PF_RSVD, "PAE: a PTE with reserved bit 63 set: #PF, error code P|RSVD"
        CHECK [fault_cr2], PAE_RSVD_VIRT + 0x40, "reserved-bit fault: CR2"
        TRY .pae_np
        mov eax, [0x40000000]
        END_TRY
.pae_np:
        CHECK_FAULT 14, 0, "PAE: read through a not-present PDPTE region: #PF, error code 0"
        ret

; build_pae_tables (paging off): PDPT[0] -> PAE_PD; PAE_PD[0] -> PAE_PT (identity
; 0..2 MiB, with the remapped and the reserved-bit PTE), PAE_PD[1] = 2 MiB page at
; physical 0x400000; the magic values.
build_pae_tables:
        mov edi, PDPT
        mov ecx, (PAE_PT + 0x1000 - PDPT) / 4
        xor eax, eax
        rep stosd
        mov dword [PDPT], PAE_PD | PG_P
        mov dword [PAE_PD], PAE_PT | PG_URW
        mov dword [PAE_PD + 8], 0x400000 | PG_PS | PG_URW
        mov edi, PAE_PT
        mov eax, PG_URW
        mov ecx, 512
.pte:
        mov [edi], eax
        add edi, 8
        add eax, 0x1000
        loop .pte
        mov dword [PAE_PT + 8 * (PAE_4K_VIRT >> 12)], PAE_4K_PHYS | PG_URW
        mov dword [PAE_PT + 8 * (PAE_RSVD_VIRT >> 12) + 4], 0x80000000
        mov dword [0x400100], MAGIC_2M
        mov dword [PAE_4K_PHYS + 0x20], MAGIC_4K
        ret

; =======================================================================================
; Ring-3 code
r3_read_sup:
        mov eax, [P_SUP + 8]
        int VEC_BACK

r3_read_pde_sup:
        mov eax, [0x400000 + 0x10]
        int VEC_BACK

r3_fetch_sup:
        jmp P_SUP

r3_read_ro:
        mov eax, [P_RO]
        int VEC_BACK

r3_write_ro:
        mov dword [P_RO + 4], 1
        int VEC_BACK

r3_write_ro2:
        mov dword [P_RO2], 1
        int VEC_BACK

%include "pm-lib.inc"
%include "pm-end.inc"
