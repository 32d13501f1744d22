/* Picks the trampoline header for the target architecture. */
#ifndef VLLSI_SYSCALL_H
#define VLLSI_SYSCALL_H
#if defined(__x86_64__)
#include "x86_64.h"
#elif defined(__aarch64__)
#include "aarch64.h"
#else
#error "vllsi: no raw syscall trampoline for this architecture (x86_64 and aarch64 only)"
#endif
#endif
