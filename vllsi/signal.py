"""Signals: numbers, sets, per-thread masks, synchronous waiting, signalfd.

What this module does: ``Signal`` (the host's numbers: SIGUSR1 is 10 on Linux
and 30 on macOS), ``SignalSet``, ``block``/``unblock``/``set_mask``/``get_mask``
(rt_sigprocmask on the *calling thread*), ``pending()`` (rt_sigpending),
``wait(set, timeout)`` (rt_sigtimedwait), ``SignalFd`` (signalfd4: signals as
readable records on a descriptor, so any fd-based event loop — selectors,
epoll, the vllsi I/O engine — can wait for them), and ``kill``.

Why there is no ``set_handler`` here — handlers go through CPython's ``signal``
module, never a raw rt_sigaction behind its back:

- CPython owns the process's handler table. ``signal.signal`` installs one C
  handler that only sets a flag and writes the wakeup fd; the Python callable
  runs later, in the main thread, between bytecodes. A handler installed with a
  raw rt_sigaction would either run Python code inside a real signal context
  (where the interpreter's state may be half-updated: a crash) or silently
  replace CPython's handler, so ``signal.getsignal`` would lie, Ctrl-C would
  stop raising KeyboardInterrupt, and ``signal.set_wakeup_fd`` users (asyncio)
  would stop waking up.
- CPython also relies on its dispositions: it ignores SIGPIPE and SIGXFSZ at
  start-up so that writes fail with EPIPE/EFBIG instead of killing the process.
- Masks and synchronous waiting are different: they do not touch the handler
  table, so vllsi does them with raw syscalls. A blocked signal stays pending
  and can be taken with :func:`wait` or read from a :class:`SignalFd` without
  any handler running at all — the robust way for a runtime to consume signals.

Masks are per thread. A signal sent to the *process* (kill) is delivered to any
thread that does not block it, so blocking in one thread of a multi-threaded
program does not hold it back; block it in every thread (new threads inherit
the creator's mask) or send it to one thread with tgkill.

Backend interface (``vllsi/<os>/impl/signal.py``): ``rt_sigprocmask(how, mask)
-> old``, ``rt_sigpending() -> mask``, ``rt_sigtimedwait(mask, timeout) ->
(signo, errno, code, pid, uid, status)`` raising WouldBlock on timeout,
``signalfd4(fd, mask, flags) -> fd``, ``signalfd_read(fd, max) ->
[(signo, errno, code, pid, uid, status)]``, ``kill(pid, sig)``, ``close(fd)``,
with masks as 64-bit ints (bit n-1 = signal n).
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from vllsi import _platform, errors

__all__ = [
    "NSIG",
    "Signal",
    "SignalFd",
    "SignalInfo",
    "SignalSet",
    "block",
    "get_mask",
    "kill",
    "pending",
    "set_mask",
    "unblock",
    "wait",
]
__laws__ = ("mask_roundtrip", "set_algebra")

_impl: Any = _platform.os_module("signal")

NSIG: Final = 65  # signals are 1..64

# Numbers per OS: Linux asm-generic/signal.h (x86_64 and arm64 agree), macOS
# <sys/signal.h>, Windows the CRT's <signal.h> (the rest do not exist there).
_LINUX = dict(SIGHUP=1, SIGINT=2, SIGQUIT=3, SIGILL=4, SIGTRAP=5, SIGABRT=6, SIGBUS=7,
              SIGFPE=8, SIGKILL=9, SIGUSR1=10, SIGSEGV=11, SIGUSR2=12, SIGPIPE=13,
              SIGALRM=14, SIGTERM=15, SIGCHLD=17, SIGCONT=18, SIGSTOP=19, SIGTSTP=20,
              SIGTTIN=21, SIGTTOU=22, SIGURG=23, SIGXCPU=24, SIGXFSZ=25, SIGVTALRM=26,
              SIGPROF=27, SIGWINCH=28, SIGIO=29, SIGSYS=31)
_DARWIN = dict(SIGHUP=1, SIGINT=2, SIGQUIT=3, SIGILL=4, SIGTRAP=5, SIGABRT=6, SIGBUS=10,
               SIGFPE=8, SIGKILL=9, SIGUSR1=30, SIGSEGV=11, SIGUSR2=31, SIGPIPE=13,
               SIGALRM=14, SIGTERM=15, SIGCHLD=20, SIGCONT=19, SIGSTOP=17, SIGTSTP=18,
               SIGTTIN=21, SIGTTOU=22, SIGURG=16, SIGXCPU=24, SIGXFSZ=25, SIGVTALRM=26,
               SIGPROF=27, SIGWINCH=28, SIGIO=23, SIGSYS=12)
_WINDOWS = dict(SIGINT=2, SIGILL=4, SIGFPE=8, SIGSEGV=11, SIGTERM=15, SIGABRT=22)
_TABLE = {"linux": _LINUX, "darwin": _DARWIN}.get(_platform.OS, _WINDOWS)


def _num(name: str) -> int:
    """The host number, or a unique negative placeholder where the OS lacks it."""
    return _TABLE.get(name, -1 - list(_LINUX).index(name))


class Signal(enum.IntEnum):
    """Signals with the host's numbers. A negative value means the OS has no such
    signal (``available`` is False); real-time signals are plain ints 34..64."""

    SIGHUP = _num("SIGHUP")
    SIGINT = _num("SIGINT")
    SIGQUIT = _num("SIGQUIT")
    SIGILL = _num("SIGILL")
    SIGTRAP = _num("SIGTRAP")
    SIGABRT = _num("SIGABRT")
    SIGBUS = _num("SIGBUS")
    SIGFPE = _num("SIGFPE")
    SIGKILL = _num("SIGKILL")
    SIGUSR1 = _num("SIGUSR1")
    SIGSEGV = _num("SIGSEGV")
    SIGUSR2 = _num("SIGUSR2")
    SIGPIPE = _num("SIGPIPE")
    SIGALRM = _num("SIGALRM")
    SIGTERM = _num("SIGTERM")
    SIGCHLD = _num("SIGCHLD")
    SIGCONT = _num("SIGCONT")
    SIGSTOP = _num("SIGSTOP")
    SIGTSTP = _num("SIGTSTP")
    SIGTTIN = _num("SIGTTIN")
    SIGTTOU = _num("SIGTTOU")
    SIGURG = _num("SIGURG")
    SIGXCPU = _num("SIGXCPU")
    SIGXFSZ = _num("SIGXFSZ")
    SIGVTALRM = _num("SIGVTALRM")
    SIGPROF = _num("SIGPROF")
    SIGWINCH = _num("SIGWINCH")
    SIGIO = _num("SIGIO")
    SIGSYS = _num("SIGSYS")

    @property
    def available(self) -> bool:
        """Whether this OS has the signal."""
        return self.value > 0

    @property
    def catchable(self) -> bool:
        """False for SIGKILL and SIGSTOP (they can be neither caught nor blocked)."""
        return self not in (Signal.SIGKILL, Signal.SIGSTOP) and self.available


def _signo(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"a signal must be an int or Signal, not {type(v).__name__}")
    n = int(v)
    if not 1 <= n < NSIG:
        raise ValueError(f"signal {n} outside 1..{NSIG - 1}")
    return n


def _as_signal(n: int) -> Signal | int:
    try:
        return Signal(n)
    except ValueError:
        return n


class SignalSet:
    """An immutable set of signal numbers 1..64 (``sigset_t``).

    Built from any iterable of ints/Signals; supports ``in``, iteration (sorted,
    known signals as :class:`Signal`), ``len``, ``|``, ``&``, ``-``, ``==``,
    :meth:`to_mask` / :meth:`from_mask` (bit n-1 = signal n), :meth:`full`.
    """

    __slots__ = ("_mask",)
    _mask: int

    def __init__(self, signals: Iterable[int] = ()) -> None:
        if isinstance(signals, SignalSet):
            m = signals._mask
        else:
            m = 0
            for s in signals:
                m |= 1 << (_signo(s) - 1)
        self._mask = m

    @classmethod
    def from_mask(cls, mask: int) -> SignalSet:
        """The set whose bit n-1 is set for each member n. ValueError beyond 64 bits."""
        if isinstance(mask, bool) or not isinstance(mask, int):
            raise TypeError("mask must be int")
        if not 0 <= mask < (1 << 64):
            raise ValueError("mask must fit 64 bits")
        s = cls()
        s._mask = int(mask)
        return s

    @classmethod
    def full(cls) -> SignalSet:
        """Every signal 1..64 (the kernel ignores SIGKILL/SIGSTOP in masks)."""
        return cls.from_mask((1 << 64) - 1)

    def to_mask(self) -> int:
        return self._mask

    def __contains__(self, sig: object) -> bool:
        if isinstance(sig, bool) or not isinstance(sig, int) or not 1 <= sig < NSIG:
            return False
        return bool((self._mask >> (int(sig) - 1)) & 1)

    def __iter__(self) -> Iterator[Signal | int]:
        m, n = self._mask, 1
        while m:
            if m & 1:
                yield _as_signal(n)
            m >>= 1
            n += 1

    def __len__(self) -> int:
        return bin(self._mask).count("1")

    def __bool__(self) -> bool:
        return self._mask != 0

    def __or__(self, other: SignalSet) -> SignalSet:
        return SignalSet.from_mask(self._mask | SignalSet(other)._mask)

    def __and__(self, other: SignalSet) -> SignalSet:
        return SignalSet.from_mask(self._mask & SignalSet(other)._mask)

    def __sub__(self, other: SignalSet) -> SignalSet:
        return SignalSet.from_mask(self._mask & ~SignalSet(other)._mask)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SignalSet) and other._mask == self._mask

    def __hash__(self) -> int:
        return hash(self._mask)

    def __repr__(self) -> str:
        names = [s.name if isinstance(s, Signal) else str(s) for s in self]
        return f"SignalSet({{{', '.join(names)}}})"


def _set(v: Any) -> SignalSet:
    if isinstance(v, SignalSet):
        return v
    if isinstance(v, (int, str, bytes)):
        raise TypeError("expected a SignalSet or an iterable of signals")
    return SignalSet(v)


@dataclass(frozen=True)
class SignalInfo:
    """One dequeued signal (from :func:`wait` or :class:`SignalFd`).

    ``pid``/``uid`` are the sender's (or the child's, for SIGCHLD); ``status`` is
    SIGCHLD's exit status/signal or a queued signal's integer value; ``code`` is
    ``si_code`` (SI_USER 0, SI_TKILL -6, SI_QUEUE -1, CLD_EXITED 1, ...).
    """

    signal: Signal | int
    code: int
    pid: int
    uid: int
    status: int
    errno: int = 0


def _info(t: Any) -> SignalInfo:
    signo, err, code, pid, uid, status = t
    return SignalInfo(_as_signal(int(signo)), int(code), int(pid), int(uid), int(status),
                      int(err))


def block(signals: Iterable[int]) -> SignalSet:
    """rt_sigprocmask(SIG_BLOCK): add ``signals`` to the calling thread's mask.

    Returns: the previous mask. Raises: TypeError/ValueError for bad signals.
    Availability: Linux.
    """
    return SignalSet.from_mask(_impl.rt_sigprocmask(0, _set(signals).to_mask()))


def unblock(signals: Iterable[int]) -> SignalSet:
    """rt_sigprocmask(SIG_UNBLOCK): remove ``signals`` from the thread's mask.

    A pending unblocked signal is delivered before this returns (its CPython
    handler then runs at the next bytecode boundary of the main thread).
    Returns: the previous mask. Raises: TypeError/ValueError. Availability: Linux.
    """
    return SignalSet.from_mask(_impl.rt_sigprocmask(1, _set(signals).to_mask()))


def set_mask(signals: Iterable[int]) -> SignalSet:
    """rt_sigprocmask(SIG_SETMASK): replace the calling thread's mask.

    Returns: the previous mask. Raises: TypeError/ValueError. Availability: Linux.
    """
    return SignalSet.from_mask(_impl.rt_sigprocmask(2, _set(signals).to_mask()))


def get_mask() -> SignalSet:
    """rt_sigprocmask(how, NULL, &old): the calling thread's current mask.

    Raises: nothing in practice. Availability: Linux.
    """
    return SignalSet.from_mask(_impl.rt_sigprocmask(0, None))


def pending() -> SignalSet:
    """rt_sigpending(): signals raised while blocked (thread- or process-directed).

    Raises: nothing in practice. Availability: Linux.
    """
    return SignalSet.from_mask(_impl.rt_sigpending())


def wait(signals: Iterable[int], timeout: float | None = None) -> SignalInfo | None:
    """rt_sigtimedwait(set, info, timeout): take one pending signal of ``signals``.

    Block the signals first (else they are delivered to their handlers instead).
    Releases the GIL; EINTR is retried with the remaining time (PEP 475).
    Args: signals: a non-empty set; timeout: seconds, None forever, 0 polls.
    Returns: the :class:`SignalInfo`, or None when the timeout expires.
    Raises: TypeError/ValueError (empty set, negative timeout). Availability: Linux.
    """
    s = _set(signals)
    if not s:
        raise ValueError("wait() needs a non-empty signal set")
    try:
        return _info(_impl.rt_sigtimedwait(s.to_mask(), timeout))
    except errors.WouldBlock:
        return None


def kill(pid: int, sig: int) -> None:
    """kill(pid, sig): send a signal to a process (pid 0 / negative: a group).

    Raises: VllsiError/ESRCH, PermissionDenied/EPERM, TypeError/ValueError.
    Availability: Linux.
    """
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError("pid must be int")
    s = 0 if sig == 0 and not isinstance(sig, bool) else _signo(sig)
    _impl.kill(int(pid), s)


class SignalFd:
    """signalfd4: the signals of a set, readable as records from a descriptor.

    ``fileno()`` plugs into selectors/epoll/the vllsi engine (readable when one
    is pending). The signals must be blocked — in every thread, for
    process-directed ones — or they are delivered normally instead;
    ``block=True`` blocks them in the calling thread now. The descriptor is
    CLOEXEC, non-blocking by default. A context manager; ``close()`` is idempotent.
    Raises (constructor): ResourceExhausted/EMFILE; TypeError/ValueError.
    Availability: Linux.
    """

    def __init__(self, signals: Iterable[int], *, nonblocking: bool = True,
                 block: bool = False) -> None:
        self._set = _set(signals)
        if block:
            _impl.rt_sigprocmask(0, self._set.to_mask())
        flags = 0o2000000 | (0o4000 if nonblocking else 0)  # SFD_CLOEXEC | SFD_NONBLOCK
        self._fd: int | None = int(_impl.signalfd4(-1, self._set.to_mask(), flags))

    @property
    def signals(self) -> SignalSet:
        return self._set

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("I/O operation on closed SignalFd")
        return self._fd

    def set_signals(self, signals: Iterable[int]) -> None:
        """signalfd4(fd, set): change which signals this descriptor reports."""
        s = _set(signals)
        _impl.signalfd4(self.fileno(), s.to_mask(), 0)
        self._set = s

    def read(self, max_records: int = 16) -> list[SignalInfo]:
        """read(fd): dequeue up to ``max_records`` signals.

        Returns [] when none is pending on a non-blocking descriptor; a blocking
        one waits (GIL released, EINTR retried per PEP 475).
        Raises: ValueError if closed or max_records < 1.
        """
        if max_records < 1:
            raise ValueError("max_records must be >= 1")
        return [_info(t) for t in _impl.signalfd_read(self.fileno(), max_records)]

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            _impl.close(fd)

    def __enter__(self) -> SignalFd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
