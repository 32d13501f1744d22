/* Raw trampolines: the kernel's return value, -4095..-1 being -errno. */
long vllsi_syscall0(long nr);
long vllsi_syscall1(long nr, long a0);
long vllsi_syscall2(long nr, long a0, long a1);
long vllsi_syscall3(long nr, long a0, long a1, long a2);
long vllsi_syscall4(long nr, long a0, long a1, long a2, long a3);
long vllsi_syscall5(long nr, long a0, long a1, long a2, long a3, long a4);
long vllsi_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
