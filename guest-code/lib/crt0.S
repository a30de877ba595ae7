/* Payload entry, image header and exception stubs. The host puts the
 * payload's arguments in rdi, rsi, rdx, rcx, r8, r9 (the SysV order), so
 * _start can call payload_main() with them untouched. */
#include "gmem/guest/abi.h"

    .section .gmem.header, "a"
    .long GMEM_PAYLOAD_MAGIC
    .short GMEM_PAYLOAD_VERSION
    .short 40
    .quad __load_addr
    .quad _start
    .quad gmem_exception_table
    .quad __image_end

    .section .text.entry, "ax"
    .globl _start
_start:
    xor %ebp, %ebp
    call payload_main
    mov %rax, %rdi
    call gmem_guest_done
1:  hlt
    jmp 1b

/* One stub per vector: push a zero error code where the CPU pushes none,
 * then the vector, and report both (plus rip and, for #PF, cr2). */
    .text
    .macro STUB vec
    .balign 16
gmem_exc_\vec:
    .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    push $0
    .endif
    push $\vec
    jmp gmem_exc_common
    .endm

    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    STUB \v
    .endr

gmem_exc_common:
    mov (%rsp), %rdi      /* vector */
    mov 8(%rsp), %rsi     /* error code */
    mov 16(%rsp), %rdx    /* faulting rip */
    xor %ecx, %ecx
    cmp $14, %rdi
    jne 1f
    mov %cr2, %rcx
1:  and $-16, %rsp
    call gmem_guest_exception
2:  hlt
    jmp 2b

    .section .rodata
    .balign 8
gmem_exception_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad gmem_exc_\v
    .endr

    .section .note.GNU-stack, "", @progbits
