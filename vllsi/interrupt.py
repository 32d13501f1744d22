"""A user-space analogue of interrupt masking: critical sections over the signal mask.

``disable_interrupts()`` blocks every maskable signal for the calling thread
(rt_sigprocmask; on Linux all but SIGKILL, SIGSTOP and glibc's reserved 32/33,
which glibc needs every thread to answer — see the backend) and returns a
:class:`CriticalSection`; ``release()`` — or leaving its ``with`` block — ends
it. Sections nest per thread: only the outermost one saves the mask, and the
mask saved there is restored *exactly* (not "unblock everything") when the last
open section is released.
``enable_interrupts()`` ends every open section of the thread at once;
``interrupts_enabled()`` says whether the thread is outside any section.
:class:`ExceptionFrame` models a CPU exception frame as plain data.

What a user-space "interrupt mask" can guarantee
------------------------------------------------
- A signal directed at this *thread* (tgkill, raise/pthread_kill) — or, in a
  single-threaded process, at the process (kill) — that arrives inside a
  section stays pending and is delivered only after the outermost release —
  before ``release()`` returns, since unblocking a pending signal delivers it
  on the way back from the syscall.
- Standard signals do not queue: several SIGUSR1 raised inside one section
  arrive as one. Real-time signals (34..64) queue and arrive in order.
- The mask in force before the section is restored bit for bit, including
  signals the caller had blocked on purpose.

What it cannot guarantee
------------------------
- Other threads and processes keep running: this is not mutual exclusion. Use a
  lock for that; a critical section only defers asynchronous *signals*.
- A signal sent to the *process* (kill) is delivered to any thread that does not
  block it. In a multi-threaded program it is deferred only if every thread is
  inside a section (or blocks it otherwise).
- Not every signal is held back: SIGKILL and SIGSTOP cannot be blocked, glibc's
  internal 32/33 are left open on purpose (blocking SIGSETXID would hang another
  thread's ``os.setuid``), and qemu-user keeps 63/64 for itself; synchronous
  faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL raised by the faulting instruction
  itself) are delivered even when blocked — the kernel forces them, killing the
  process if it cannot.
- Python handlers are not run at delivery: CPython's C handler only records the
  signal, and the Python callable runs later in the *main* thread between
  bytecodes. "Delivered after release" therefore means: recorded when the mask
  opens, handled at the main thread's next bytecode boundary.
- Blocking time is unbounded and invisible to the kernel's scheduler: unlike a
  CPU's IF flag it does not stop preemption, page faults, or the GIL switching to
  another thread.

Backend interface (``vllsi/<os>/impl/interrupt.py``): ``rt_sigprocmask(how,
mask) -> old`` and ``maskable() -> mask``, with 64-bit masks (bit n-1 =
signal n).
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from vllsi import _platform

__all__ = [
    "CriticalSection",
    "ExceptionFrame",
    "disable_interrupts",
    "enable_interrupts",
    "interrupts_enabled",
]
__laws__ = ("frame_roundtrip",)

_impl: Any = _platform.os_module("interrupt")

_SIG_BLOCK = 0
_SIG_SETMASK = 2


class _State(threading.local):
    depth: int = 0
    saved: int = 0
    epoch: int = 0  # bumped by enable_interrupts(): older sections become inert


_state = _State()


class CriticalSection:
    """One level of :func:`disable_interrupts` on the thread that created it.

    ``release()`` is idempotent; when it closes the outermost open section the
    mask saved by that section is restored exactly. A section must be released on
    the thread that opened it (RuntimeError otherwise).
    """

    __slots__ = ("_epoch", "_open", "_thread")

    def __init__(self, epoch: int) -> None:
        self._thread = threading.get_ident()
        self._epoch = epoch
        self._open = True

    @property
    def active(self) -> bool:
        """Whether this section still holds interrupts off."""
        return self._open and self._epoch == _state.epoch and _state.depth > 0

    @property
    def depth(self) -> int:
        """The calling thread's current nesting depth."""
        return _state.depth

    def release(self) -> None:
        """End this section (rt_sigprocmask(SIG_SETMASK, saved) at the outermost one).

        Raises: RuntimeError from another thread. Availability: Linux.
        """
        if threading.get_ident() != self._thread:
            raise RuntimeError("a CriticalSection must be released by its own thread")
        if not self._open:
            return
        self._open = False
        if self._epoch != _state.epoch or _state.depth == 0:
            return  # ended by enable_interrupts()
        _state.depth -= 1
        if _state.depth == 0:
            _impl.rt_sigprocmask(_SIG_SETMASK, _state.saved)

    def __enter__(self) -> CriticalSection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"CriticalSection(active={self.active}, depth={_state.depth})"


def disable_interrupts() -> CriticalSection:
    """rt_sigprocmask(SIG_BLOCK, maskable): block every maskable signal for this thread.

    Returns: a :class:`CriticalSection` (use ``with`` or call ``release()``).
    Nesting is counted; only the outermost section saves and restores the mask.
    Raises: nothing in practice. Availability: Linux.
    """
    st = _state
    if st.depth == 0:
        st.saved = int(_impl.rt_sigprocmask(_SIG_BLOCK, _impl.maskable()))
    st.depth += 1
    return CriticalSection(st.epoch)


def enable_interrupts() -> None:
    """End every open critical section of the calling thread now.

    Restores the mask saved by the outermost section (rt_sigprocmask
    SIG_SETMASK); sections still open become inert (their release is a no-op).
    Does nothing outside a section. Availability: Linux.
    """
    st = _state
    if st.depth == 0:
        return
    st.depth = 0
    st.epoch += 1
    _impl.rt_sigprocmask(_SIG_SETMASK, st.saved)


def interrupts_enabled() -> bool:
    """True when the calling thread is inside no critical section.

    (It reports vllsi's nesting, not the raw mask: signals blocked with
    ``vllsi.signal.block`` do not count.) Availability: every OS (pure state).
    """
    return _state.depth == 0


@dataclass(frozen=True)
class ExceptionFrame:
    """A CPU exception frame as data (what a handler would find on its stack).

    ``arch`` "x86_64": ``error_code, rip, cs, rflags, rsp, ss`` (the order the
    CPU pushes them, lowest address first, 6 x u64 little-endian). ``arch``
    "aarch64": ``esr, elr, spsr, sp`` and ``x`` (x0..x30), packed as
    x0..x30, sp, elr, spsr, esr (35 x u64). Values are unsigned 64-bit.
    """

    arch: str
    regs: dict[str, int] = field(default_factory=dict)
    x: tuple[int, ...] = ()

    LAYOUTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "x86_64": ("error_code", "rip", "cs", "rflags", "rsp", "ss"),
        "aarch64": ("sp", "elr", "spsr", "esr"),
    }

    def __post_init__(self) -> None:
        names = self.LAYOUTS.get(self.arch)
        if names is None:
            raise ValueError(f"unknown arch {self.arch!r} (x86_64 or aarch64)")
        if set(self.regs) != set(names):
            raise ValueError(f"{self.arch} frame needs exactly {names}")
        if self.arch == "aarch64" and len(self.x) != 31:
            raise ValueError("aarch64 frame needs 31 general registers x0..x30")
        if self.arch == "x86_64" and self.x:
            raise ValueError("x86_64 frame has no general registers")
        for v in (*self.regs.values(), *self.x):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < (1 << 64):
                raise ValueError("register values must be unsigned 64-bit ints")

    def instruction_pointer(self) -> int:
        """rip (x86_64) or elr (aarch64)."""
        return self.regs["rip" if self.arch == "x86_64" else "elr"]

    def stack_pointer(self) -> int:
        """rsp (x86_64) or sp (aarch64)."""
        return self.regs["rsp" if self.arch == "x86_64" else "sp"]

    def to_bytes(self) -> bytes:
        """The packed little-endian layout described in the class docstring."""
        names = self.LAYOUTS[self.arch]
        values = (*self.x, *(self.regs[n] for n in names))
        return struct.pack(f"<{len(values)}Q", *values)

    @classmethod
    def from_bytes(cls, arch: str, data: bytes) -> ExceptionFrame:
        """Parse :meth:`to_bytes`'s layout. ValueError for a wrong size or arch."""
        names = cls.LAYOUTS.get(arch)
        if names is None:
            raise ValueError(f"unknown arch {arch!r} (x86_64 or aarch64)")
        nx = 31 if arch == "aarch64" else 0
        want = 8 * (nx + len(names))
        if len(data) != want:
            raise ValueError(f"{arch} frame is {want} bytes, got {len(data)}")
        values = struct.unpack(f"<{nx + len(names)}Q", data)
        return cls(arch, dict(zip(names, values[nx:], strict=False)), tuple(values[:nx]))
