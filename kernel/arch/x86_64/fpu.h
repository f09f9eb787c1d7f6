/* User FPU/SSE/AVX state (arch/x86_64/fpu.c): each thread keeps its registers in an area of its own
 * while it is switched out (xsave where allowed, fxsave in PVM-safe mode); signal frames carry the same
 * bytes in Linux's layout. The kernel itself never touches these registers (-mgeneral-regs-only). */
#pragma once
#include "types.h"

/* Control registers and XCR0 for user FPU/SSE/AVX; called once from cpu_init. */
void fpu_init(void);
/* Bytes of a thread's save area (64-byte aligned when allocated by the caller). */
uint32_t fpu_state_size(void);
/* The state a new program starts with (Linux's: FCW 0x37f, MXCSR 0x1f80, the rest zero). */
void fpu_init_state(void *area);
void fpu_save(void *area);
void fpu_restore(const void *area);
/* Loads the initial state into the registers. */
void fpu_load_initial(void);
/* Bytes the FPU state takes in a signal frame (fxsave layout, plus the xsave extension and its end
 * marker when xsave is used), and the alignment it needs there. */
uint32_t fpu_sigframe_size(void);
/* Copies a save area into a signal frame at user in Linux's layout; 0 or -EFAULT. */
long fpu_to_sigframe(void *area, uint64_t user);
/* Reads a signal frame's FPU state (as written by fpu_to_sigframe, or a plain fxsave image) into a
 * save area, made safe to load (reserved bits cleared); 0 or -EFAULT. */
long fpu_from_sigframe(void *area, uint64_t user);
