"""Linux backend of :mod:`vllsi.interrupt`: the thread's mask via raw rt_sigprocmask.

``maskable()`` is every signal a critical section blocks: 1..64 except SIGKILL
and SIGSTOP (the kernel refuses them) and glibc's reserved 32 (SIGCANCEL) and
33 (SIGSETXID). glibc's setuid/setgid family signals *every* thread with
SIGSETXID and waits for each to answer, so a thread blocking it would hang
another thread's ``os.setuid``; pthread_sigmask refuses to block them for that
reason, and so do we.
"""

from __future__ import annotations

from vllsi.linux.signal import rt_sigprocmask

__all__ = ["maskable", "rt_sigprocmask"]

_MASKABLE = ((1 << 64) - 1) & ~((1 << 8) | (1 << 18) | (1 << 31) | (1 << 32))


def maskable() -> int:
    """The signal set a critical section blocks (bit n-1 = signal n)."""
    return _MASKABLE
