"""Linux engine drivers: :class:`IoUringDriver` and its fallback :class:`EpollDriver`.

Both implement :class:`vllsi.io_engine.IOEngine` and pass the same contract
suite (``conformance/io_engine/``). :func:`vllsi.io_engine.create_io_engine`
chooses io_uring when :func:`IoUringDriver.probe` says it works here, else
epoll (warning once).

io_uring memory ordering
------------------------
An io_uring instance is two single-producer/single-consumer rings shared with
the kernel, mapped from the ring fd (``IORING_OFF_SQ_RING``, ``_CQ_RING``,
``_SQES``; one mapping for both rings with ``IORING_FEAT_SINGLE_MMAP``). Each
index has one writer: we own the SQ *tail* and the CQ *head*; the kernel owns the
SQ *head* and the CQ *tail*. The rules:

1. Submitting: fill the SQE (and the ``sq_array`` slot), then store the new SQ
   tail with **release** semantics. The release orders every earlier write (the
   SQE fields, and anything the SQE points to: the pinned buffer's address, the
   timespec, the sockaddr) before the tail, so a kernel that sees the tail sees
   the entry. (Without SQPOLL the io_uring_enter syscall is itself a barrier,
   but SQPOLL's kernel thread reads the tail concurrently; we stay correct for
   both.)
2. Checking room: load the SQ head with **acquire**: the kernel has finished
   reading the entries below it, so they may be overwritten.
3. Reaping: load the CQ tail with **acquire**, so the CQEs below it (written
   by the kernel before its release of the tail) are visible; read them; then
   store the CQ head with **release**, so our reads complete before the kernel
   may reuse those slots.
4. Our own indices are read relaxed: only we write them.

On x86_64 (TSO) acquire loads and release stores are plain moves plus a
compiler barrier; on aarch64 they become ``ldar``/``stlr``. Python cannot
express either, so every ring access is C (``_native/csrc/uring_ring.h``, used
by ``csrc/fast/uring.c`` for the engine and ``csrc/ffi/uring.c`` for cffi
callers) with the ``__atomic`` builtins. The C layer never makes a syscall;
``io_uring_enter`` goes through the active tier (asm trampoline or libc).

Lifetime: an SQE only carries addresses. The engine pins, per in-flight op, a
strong reference to the op and an exported ``Py_buffer`` of its buffer (so a
bytearray cannot be resized and an mmap cannot be closed under the kernel), and
keeps the kernel-visible structs (timespec, sockaddr + socklen) inside a slot
array that never moves. A slot is released only when its CQE is reaped.
``shutdown`` cancels everything (``IORING_OP_ASYNC_CANCEL`` with
``CANCEL_ANY``), then reaps until no slot is in flight before unmapping: a
request the kernel could still complete keeps its memory. If the kernel does not
give everything back within ``shutdown_grace`` seconds, the ring and its pins
are kept referenced for the life of the process (never freed under the kernel).

Other io_uring specifics: every SQE is zeroed before being filled (no stale
fields); user_data is the SubmissionId (``sequence << 16 | slot``), internal
requests have bit 63 set. Waits use ``IORING_ENTER_EXT_ARG`` with a relative
timespec (EINTR: retried with the remaining time). Another thread wakes a
blocked poll by writing the engine's eventfd, on which an internal
``IORING_OP_READ`` is kept armed while polling. ``Close`` submits a hard-linked
``ASYNC_CANCEL(fd, ALL)`` before ``IORING_OP_CLOSE``, so requests still queued on
that fd complete with -ECANCELED, as in the epoll driver. Timeouts are
``IORING_OP_TIMEOUT`` (-ETIME is reported as 0, per the contract). At most
``capacity = 2 * entries`` ops are in flight; the CQ ring is sized at 4 x entries
so completions (and the internal ones) never overflow it (a multishot Accept,
``IORING_ACCEPT_MULTISHOT``, keeps its slot while its CQEs carry
``IORING_CQE_F_MORE``; beyond the CQ ring the kernel's NODROP backlog holds them).
``submit_reads``/``submit_writes`` fill a batch of SQEs in one C call without op
objects, and ``IoEngineConfig(batch_submit=True)`` leaves SQEs for the next
``poll`` so one io_uring_enter both submits and waits. Registered buffers and
files (``register_buffers``/``register_files``, ``submit_fixed_reads``/
``submit_fixed_writes``: IORING_OP_READ_FIXED/WRITE_FIXED, IOSQE_FIXED_FILE)
spare the kernel the per-op page and file lookups. For O_DIRECT at queue depth,
refill each completion with its own submit (one SQE per io_uring_enter, eager
mode) rather than a poll's worth at once: a multi-SQE enter plugs the block
layer and the whole batch reaches the device together, which on the reference
virtio disk completes in waves (~70K 4 KiB IOPS at QD32 instead of ~87K, fio's
level; the same in C). The ring is set up with
``IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG`` (kernel >= 5.19, else without):
completions are not forced on a task running Python by an interrupt; they are
posted at its next io_uring_enter, which ``poll(0)`` makes when the kernel sets
``IORING_SQ_TASKRUN``. ``submit``/``poll`` themselves are C (the ring object's
methods, bound to the driver instance). ``submit_linked`` chains ops with
IOSQE_IO_LINK (in order; a failure cancels the rest with -ECANCELED). Multishot
recv over provided-buffer rings is described below.

Provided buffers and multishot recv
-----------------------------------
``provide_buffers(group, buffers)`` registers a *provided-buffer ring*
(``IORING_REGISTER_PBUF_RING``, Linux >= 5.19) for buffer group ``group``:
a power-of-two array of ``struct io_uring_buf`` {addr, len, bid} in
page-aligned anonymous memory the driver maps (``mmap`` through the raw
syscall layer), every buffer added at once with ``bid`` = its index.
``submit_recv_multishot(fd, group)`` (``IORING_OP_RECV`` with
``IORING_RECV_MULTISHOT`` and ``IOSQE_BUFFER_SELECT``, Linux >= 6.0) is then one
submission that completes once per received chunk, the kernel picking the next
buffer of the ring each time: no buffer is tied up by a connection that is not
sending, and there is no resubmission per message. Both are IoUringDriver
extras, not part of the IOEngine contract (the epoll, sync and IOCP drivers do
not have them); ``IoUringDriver.probe_multishot_recv()`` says whether this kernel
has them (probed once, on a scratch ring), and the methods raise Unsupported
where it does not.

Ownership. The buffers are the caller's objects, exported (pinned) from
``provide_buffers`` until ``remove_buffers`` or shutdown. Each buffer is owned
either by the ring (the kernel may fill it at any time) or by the caller: a
completion with ``IORING_CQE_F_BUFFER`` in ``flags`` hands buffer
``bid = flags >> 16`` to the caller, its first ``result`` bytes being the data
(``provided(group, bid, n)``). That data is valid until the caller gives the
buffer back with ``recycle(group, bid)``; from then on the kernel may overwrite
it. The driver tracks which buffers were handed out, so a buffer cannot be
recycled twice (the ring can never hold more than its entries, and no entry the
kernel has not consumed is overwritten). The multishot recv stays in flight
(its slot pinned) while its completions carry ``IORING_CQE_F_MORE``; the
completion without it is the last: 0 (end of stream), -errno, -ECANCELED
after ``cancel``, **-ENOBUFS when the ring ran dry** (every buffer handed out
and none recycled yet), or **a chunk of data** (result > 0, with its buffer)
when the kernel could not post another CQE because the CQ ring was full (recent
kernels end a multishot request rather than let it grow the overflow backlog).
In the last two cases no data is lost (the rest stays in the socket): take the
data, recycle, then submit the recv again. ``remove_buffers`` refuses
(Busy/EBUSY) while a multishot recv selects from the group. CQEs beyond the CQ
ring wait in the kernel's backlog (``IORING_SQ_CQ_OVERFLOW``) until an
io_uring_enter with GETEVENTS; ``poll(0)`` makes one when that flag is set.

Memory ordering of a buffer ring. Its single index we write is the ring's
16-bit *tail* (it overlays ``resv`` of entry 0, so entries are written field by
field, never that field); the kernel owns the *head*, private to it, and loads
our tail with acquire. Recycling writes the entry at ``tail & mask``, then
stores the new tail with **release** (``vl_store_release16`` in
``uring_ring.h``), so a kernel that sees the tail sees the entry; we learn
which entries it consumed only from CQEs (rule 3 above: the CQ tail's acquire
makes the CQE, and the kernel's head move before it, visible), which is why
only a buffer a CQE handed out may be written back.

What the epoll emulation can and cannot promise
-----------------------------------------------
The epoll driver turns readiness into completions: it performs the operation
(recv/send/accept4/read/write) when the descriptor is ready, using edge-
triggered registrations made once per descriptor and per-fd FIFO queues for the
read and write sides. It *can* promise: the same results as io_uring for
sockets, pipes, eventfds and other pollable files (real accept with the peer
address, connect completed with SO_ERROR, per-op errors as data, FIFO order per
fd and direction, Timeout, Cancel of anything not yet performed, a working wake).
It *cannot* promise:

- asynchrony for regular files and block devices: epoll refuses them (EPERM),
  so Read/Write/Fsync on them run synchronously at submit (pread/pwrite with
  the offset honoured, read/write at the position for offset -1). A slow disk
  blocks the caller; io_uring does not.
- cancellation of an op already performed: a Cancel finds only queued ops
  (-ENOENT otherwise); io_uring may stop a request in progress.
- descriptor state: the driver makes pollable non-socket descriptors (pipes,
  ttys) non-blocking (O_NONBLOCK is shared by every dup of the file), because a
  readiness-driven driver must never block; sockets are used with
  MSG_DONTWAIT instead and left as they are.
- descriptors closed behind its back: close them with a ``Close`` op, or call
  :meth:`EpollDriver.forget` before the number can be reused.
- submission order across different descriptors, and zero syscalls per op: an
  op on a ready descriptor is performed at submit (one syscall), a waiting one
  costs an epoll wait shared with every other ready descriptor.
"""

from __future__ import annotations

import errno as _errno
import struct as _struct
import threading
import time
import warnings
from array import array as _array
from collections.abc import Iterable
from typing import Any, Final

from vllsi import errors
from vllsi import io_engine as _ie
from vllsi._engine import EngineLifecycle
from vllsi.linux import _ops, _sockaddr
from vllsi.linux import _syscall as _s
from vllsi.linux import event as _ev
from vllsi.linux._epoll import EpollDriver

__all__ = ["EpollDriver", "IoUringDriver"]

try:
    from vllsi.linux import _fast as _native

    _HAVE_RING = hasattr(_native, "uring_ring")
except ImportError:  # no compiled extension: io_uring is unavailable (epoll is used)
    _native = None  # type: ignore[assignment]
    _HAVE_RING = False

# include/uapi/linux/io_uring.h
IORING_OFF_SQ_RING: Final = 0
IORING_OFF_CQ_RING: Final = 0x8000000
IORING_OFF_SQES: Final = 0x10000000
IORING_FEAT_SINGLE_MMAP: Final = 1 << 0
IORING_FEAT_NODROP: Final = 1 << 1
IORING_FEAT_RW_CUR_POS: Final = 1 << 3
IORING_FEAT_EXT_ARG: Final = 1 << 8
IORING_ENTER_GETEVENTS: Final = 1 << 0
IORING_ENTER_EXT_ARG: Final = 1 << 3
IORING_REGISTER_BUFFERS: Final = 0
IORING_UNREGISTER_BUFFERS: Final = 1
IORING_REGISTER_FILES: Final = 2
IORING_UNREGISTER_FILES: Final = 3
IORING_REGISTER_PROBE: Final = 8
IORING_REGISTER_PBUF_RING: Final = 22
IORING_UNREGISTER_PBUF_RING: Final = 23
IORING_CQE_F_BUFFER: Final = 1 << 0
IORING_CQE_F_MORE: Final = 1 << 1
IORING_CQE_BUFFER_SHIFT: Final = 16
IORING_SETUP_COOP_TASKRUN: Final = 1 << 8
IORING_SETUP_TASKRUN_FLAG: Final = 1 << 9
# Completions are not forced on a task running Python (no interrupting IPI); they
# are posted at its next io_uring_enter, and IORING_SQ_TASKRUN says one is due.
_SETUP_FLAGS: Final = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
IORING_OP_ASYNC_CANCEL: Final = 14
IORING_ASYNC_CANCEL_ALL: Final = 1 << 0
IORING_ASYNC_CANCEL_ANY: Final = 1 << 2
NEEDED_OPCODES: Final = (0, 3, 11, 13, 14, 16, 19, 22, 23, 26, 27)
NEEDED_FEATURES: Final = (IORING_FEAT_NODROP | IORING_FEAT_RW_CUR_POS | IORING_FEAT_EXT_ARG)
_INTERNAL_CANCEL: Final = (1 << 63) | 2
_INTERNAL_SHUTDOWN: Final = (1 << 63) | 3

_NR_MMAP: Final = _s.NR["mmap"]
_NR_MUNMAP: Final = _s.NR["munmap"]
_PROT_RW: Final = 0x1 | 0x2
_MAP_SHARED_POPULATE: Final = 0x01 | 0x8000
_MAP_PRIVATE_ANON: Final = 0x02 | 0x20 | 0x8000  # MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE
_ETIME: Final = _errno.ETIME
_EINTR: Final = _errno.EINTR

_graveyard: list[Any] = []  # rings the kernel never gave back: kept mapped and pinned
_extras: tuple[bool, bool, str] | None = None  # (PBUF_RING, RECV_MULTISHOT, why): probed once


def _mmap(fd: int, size: int, offset: int) -> int:
    r = _s.syscall(_NR_MMAP, 0, size, _PROT_RW, _MAP_SHARED_POPULATE, fd, offset)
    return _s.check(r, "mmap")


def _encode_connect(op: Any) -> bytes:
    return _ops.connect_sockaddr(op.fd, op.address)


def _decode_accept(raw: Any) -> Any:
    """The peer of an Accept: a raw sockaddr, or (multishot) the new fd to ask."""
    if isinstance(raw, int):
        from vllsi.linux import net

        try:
            return _sockaddr.decode(net.getpeername(raw))
        except errors.VllsiError:
            return ""  # the peer is already gone (still an Accept result: never None)
    return _sockaddr.decode(raw)


class IoUringDriver(EngineLifecycle):
    """io_uring_setup + mmap + io_uring_enter: the IOEngine contract over io_uring.

    See the module docstring for the ring protocol, pinning, wake-up and timeouts.
    Besides the contract it offers :meth:`submit_reads`/:meth:`submit_writes`
    (batches without op objects), ``params`` (what io_uring_setup reported),
    :meth:`probe`, registered buffers and files, and provided-buffer rings with
    multishot recv (:meth:`provide_buffers`, :meth:`submit_recv_multishot`,
    :meth:`provided`, :meth:`recycle`, :meth:`remove_buffers`).

    Args: config: IoEngineConfig (``entries`` = SQ ring size).
    Raises: Unsupported (io_uring refused, or the opcodes/features the contract
    needs are missing: ``IoUringDriver.probe()`` says which), PermissionDenied/EPERM
    (seccomp, ``kernel.io_uring_disabled``), ResourceExhausted/ENOMEM, EMFILE.
    Availability: Linux >= 5.19 with the native extension built.
    """

    backend = "io_uring"
    shutdown_grace = 10.0

    @staticmethod
    def probe() -> tuple[bool, str]:
        """(True, "ok") if this driver can run here, else (False, why)."""
        if not _HAVE_RING:
            return False, "the native ring helpers (vllsi.linux._fast) are not built"
        try:
            fd, params = _ev.io_uring_setup(4)
        except errors.VllsiError as exc:
            return False, f"io_uring_setup: {_errno.errorcode.get(exc.errno or 0, exc.errno)}"
        try:
            missing = NEEDED_FEATURES & ~params.features
            if missing:
                return False, f"kernel lacks io_uring features {missing:#x}"
            probe = bytearray(16 + 256 * 8)
            try:
                _ev.io_uring_register(fd, IORING_REGISTER_PROBE, probe, 256)
            except errors.VllsiError as exc:
                return False, f"IORING_REGISTER_PROBE: {exc.strerror}"
            supported = {probe[16 + i * 8] for i in range(probe[1])
                         if probe[16 + i * 8 + 2] & 1}
            lacking = [op for op in NEEDED_OPCODES if op not in supported]
            if lacking:
                return False, f"kernel lacks io_uring opcodes {lacking}"
            return True, "ok"
        finally:
            _s.syscall(_ops.NR_CLOSE, fd)

    def __init__(self, config: _ie.IoEngineConfig | None = None) -> None:
        if config is None:
            config = _ie.IoEngineConfig()
        elif not isinstance(config, _ie.IoEngineConfig):
            raise TypeError(f"config must be an IoEngineConfig, not {type(config).__name__}")
        self._closed = True
        self._wake_lock = threading.Lock()  # wake() never writes to a closed (reused) fd
        self._maps: list[tuple[int, int]] = []
        self._ring_fd = -1
        self._wakefd = -1
        self._ring: Any = None
        self._pbufs: dict[int, tuple[int, int, list[memoryview]]] = {}  # group: ring, size, views
        if not _HAVE_RING:
            raise errors.unsupported("io_uring without the native extension",
                                     syscall="io_uring_setup")
        entries = config.entries
        cq = 1 << max(2, (4 * entries - 1).bit_length())
        try:
            self._ring_fd, p = _ev.io_uring_setup(entries, _SETUP_FLAGS, cq_entries=cq)
        except errors.VllsiError as exc:
            if exc.errno != _errno.EINVAL:  # EINVAL: a kernel before 5.19 (no COOP_TASKRUN)
                raise
            self._ring_fd, p = _ev.io_uring_setup(entries, cq_entries=cq)
        try:
            self._setup(p, 2 * entries)
        except BaseException:
            self._release()
            raise
        self.capacity = 2 * entries
        self.params = p
        self._eager = not config.batch_submit
        self._cancelled = 0
        self._nfiles = 0
        ring: Any = self._ring
        ring.bind(self._ring_fd, self._wakefd, _s.TIER != "asm", self._eager,
                  _ie.closed_error, _ie.would_block, self._sq_flags)
        # The hot paths are the ring's own C methods (the class methods below
        # document them and are what a subclass would override).
        vars(self).update(submit=ring.submit, poll=ring.poll, recycle=ring.recycle)
        self._core: Any = ring
        self._closed = False

    def _setup(self, p: _ev.IoUringParams, nslots: int) -> None:
        if p.features & NEEDED_FEATURES != NEEDED_FEATURES:
            raise errors.unsupported("io_uring without NODROP/RW_CUR_POS/EXT_ARG",
                                     syscall="io_uring_setup")
        so, co = p.sq_off, p.cq_off
        sq_size = so["array"] + p.sq_entries * 4
        cq_size = co["cqes"] + p.cq_entries * 16
        fd = self._ring_fd
        if p.features & IORING_FEAT_SINGLE_MMAP:
            size = max(sq_size, cq_size)
            sq = _mmap(fd, size, IORING_OFF_SQ_RING)
            self._maps.append((sq, size))
            cqb = sq
        else:
            sq = _mmap(fd, sq_size, IORING_OFF_SQ_RING)
            self._maps.append((sq, sq_size))
            cqb = _mmap(fd, cq_size, IORING_OFF_CQ_RING)
            self._maps.append((cqb, cq_size))
        sqes = _mmap(fd, p.sq_entries * 64, IORING_OFF_SQES)
        self._maps.append((sqes, p.sq_entries * 64))
        self._wakefd = _ev.eventfd2(0, _ev.EFD_CLOEXEC)
        self._ring = _native.uring_ring(
            sq + so["head"], sq + so["tail"], _u32_at(sq + so["ring_mask"]),
            _u32_at(sq + so["ring_entries"]), sq + so["array"], sqes,
            cqb + co["head"], cqb + co["tail"], _u32_at(cqb + co["ring_mask"]),
            _u32_at(cqb + co["ring_entries"]), cqb + co["cqes"], nslots,
            _ie.OP_TYPES, _ie.CompletionResult, _encode_connect, _decode_accept,
        )
        self._sq_entries = p.sq_entries
        self._sq_flags = sq + so["flags"]
        self._one = _ev.ffi.new("uint64_t[1]", [1])
        self._one_addr = int(_ev.ffi.cast("uintptr_t", self._one))

    # -- submission ---------------------------------------------------------------
    def _flush(self) -> None:
        """Hand every filled SQE to the kernel (EINTR retried, PEP 475)."""
        self._ring.flush()

    def submit(self, op: Any) -> int:
        """Submit one op (see IOEngine); returns its SubmissionId.

        Runs in C (the ring's ``submit``, bound to the instance): type dispatch,
        pinning, the SQE, and with eager submission one io_uring_enter.
        Raises: TypeError/ValueError (bad op, nothing submitted), WouldBlock at
        capacity, BadDescriptor after shutdown, the enter's error otherwise.
        """
        sid: int = self._core.submit(op)
        return sid

    def submit_many(self, ops: Iterable[Any]) -> list[int]:
        """Submit ops in order with one io_uring_enter per SQ-ring's worth.

        Raises: TypeError/ValueError (nothing submitted), WouldBlock with
        ``.submitted``/``.ids`` at capacity, BadDescriptor after shutdown.
        """
        if self._closed:
            raise _ie.closed_error()
        batch = ops if type(ops) is list else list(ops)
        if len(batch) > self._sq_entries:
            _precheck(batch)
        return self._drive(self._ring.prep, batch)

    def _drive(self, prep: Any, *args: Any, fixed: bool | None = None) -> list[int]:
        """Run a ring prep call (``prep(*args, start[, fixed])``) until the whole batch is
        in: hand SQEs to the kernel as the SQ ring fills (and at once when eager);
        WouldBlock with the ids that went in when the engine is at capacity."""
        ids: list[int] = []
        start = 0
        flush = self._ring.flush
        while True:
            if fixed is None:
                got, start, status = prep(*args, start)
            else:
                got, start, status = prep(*args, start, fixed)
            ids.extend(got)
            if self._eager or status:
                flush()
            if status == 0:
                return ids
            if status == 2:
                raise _ie.would_block(ids, self.capacity)

    def submit_reads(self, fd: Any, buffers: Iterable[Any], offsets: Iterable[int]
                     ) -> list[int]:
        """Submit one Read per (buffer, offset) on ``fd`` (each reads the whole buffer):
        the batch form of :class:`~vllsi.io_engine.Read`, without op objects.

        Raises: as :meth:`submit_many`; ValueError when the lengths differ.
        """
        return self._submit_rw(fd, buffers, offsets, False)

    def submit_writes(self, fd: Any, buffers: Iterable[Any], offsets: Iterable[int]
                      ) -> list[int]:
        """Submit one Write per (buffer, offset) on ``fd``: the batch form of
        :class:`~vllsi.io_engine.Write`. Raises: as :meth:`submit_reads`."""
        return self._submit_rw(fd, buffers, offsets, True)

    def _submit_rw(self, fd: Any, buffers: Iterable[Any], offsets: Iterable[int],
                   write: bool) -> list[int]:
        if self._closed:
            raise _ie.closed_error()
        f = _ie._fd(fd)
        bufs = buffers if type(buffers) is list else list(buffers)
        offs = offsets if type(offsets) is list else list(offsets)
        if len(bufs) != len(offs):
            raise ValueError("buffers and offsets differ in length")
        if len(bufs) > self._sq_entries:
            _precheck([(_ie.Write if write else _ie.Read)(f, b, None, o)
                       for b, o in zip(bufs, offs, strict=True)])
        return self._drive(self._ring.prep_rw, f, bufs, offs, write)

    def submit_linked(self, ops: Iterable[Any]) -> list[int]:
        """Submit ops as one IOSQE_IO_LINK chain: each starts when the previous one
        completed, and an op that fails (a negative result, or a short read or write)
        cancels the rest, which complete with -ECANCELED. Every op still reports its
        own completion, in chain order.

        The chain goes to the kernel in one submission (links do not span
        io_uring_enter calls), so it must fit the SQ ring (a Close takes two
        entries: the cancel of its fd's queued ops, then the close).

        Raises: TypeError/ValueError (a bad op, or a chain longer than the SQ ring:
        nothing submitted); WouldBlock (fewer free slots than ops: nothing
        submitted); BadDescriptor after shutdown.
        Availability: Linux >= 5.3 (io_uring links).
        """
        if self._closed:
            raise _ie.closed_error()
        batch = ops if type(ops) is list else list(ops)
        ring = self._ring
        ids, status = ring.prep_linked(batch)
        if status == 1:  # SQ ring short of room: hand what is there to the kernel
            ring.flush()
            ids, status = ring.prep_linked(batch)
        if status:
            raise _ie.would_block([], self.capacity)
        if self._eager:
            ring.flush()
        linked: list[int] = ids
        return linked

    # -- registered buffers and files -------------------------------------------
    def register_buffers(self, buffers: Iterable[Any]) -> None:
        """io_uring_register(IORING_REGISTER_BUFFERS): pin buffers for fixed I/O.

        The kernel maps the buffers' pages once; :meth:`submit_fixed_reads` and
        :meth:`submit_fixed_writes` then name them by index and skip the per-op
        page lookup (the gain is largest for O_DIRECT). Each buffer stays exported
        (a bytearray cannot be resized, an mmap cannot be closed) until
        :meth:`unregister_buffers` or shutdown.

        Args: buffers: 1..16384 contiguous buffer objects of 1 byte..1 GiB each
            (read-only ones can only be written from).
        Raises: TypeError/ValueError (bad buffers, nothing registered);
            Busy/EBUSY (buffers already registered); ResourceExhausted/ENOMEM
            (RLIMIT_MEMLOCK on kernels before 5.12); BadDescriptor after shutdown.
        Availability: Linux >= 5.1 (io_uring).
        """
        if self._closed:
            raise _ie.closed_error()
        bufs = buffers if type(buffers) is list else list(buffers)
        iov = self._core.pin_buffers(bufs)
        try:
            _ev.io_uring_register(self._ring_fd, IORING_REGISTER_BUFFERS, iov, len(bufs))
        except BaseException:
            self._core.unpin_buffers()
            raise

    def unregister_buffers(self) -> None:
        """io_uring_register(IORING_UNREGISTER_BUFFERS): release the registered buffers.

        Raises: ValueError when none are registered; Busy/EBUSY while a fixed read or
        write is in flight (reap it first); BadDescriptor after shutdown.
        Availability: Linux >= 5.1.
        """
        if self._closed:
            raise _ie.closed_error()
        registered, in_flight = self._core.fixed_state()
        if not registered:
            raise ValueError("no buffers are registered")
        if in_flight:
            raise errors.from_errno(_errno.EBUSY, syscall="io_uring_register",
                                    message=f"{in_flight} fixed ops still in flight")
        _ev.io_uring_register(self._ring_fd, IORING_UNREGISTER_BUFFERS)
        self._core.unpin_buffers()

    def register_files(self, fds: Iterable[int]) -> None:
        """io_uring_register(IORING_REGISTER_FILES): a fixed file table.

        ``fixed_file=True`` in :meth:`submit_fixed_reads`/:meth:`submit_fixed_writes`
        then takes an index into this table instead of a descriptor, which spares
        the kernel a file lookup and reference count per op. The kernel holds its
        own reference: closing a registered descriptor does not close the file
        until :meth:`unregister_files` or shutdown.

        Args: fds: 1..65536 descriptors (-1 leaves a slot empty).
        Raises: TypeError/ValueError; Busy/EBUSY (a table is registered);
            BadDescriptor/EBADF (a closed descriptor). Availability: Linux >= 5.1.
        """
        if self._closed:
            raise _ie.closed_error()
        table = [f if f == -1 else _ie._fd(f) for f in fds]
        if not 1 <= len(table) <= 65536:
            raise ValueError(f"1..65536 files can be registered, not {len(table)}")
        _ev.io_uring_register(self._ring_fd, IORING_REGISTER_FILES,
                              _array("i", table).tobytes(), len(table))
        self._nfiles = len(table)

    def unregister_files(self) -> None:
        """io_uring_register(IORING_UNREGISTER_FILES): drop the fixed file table (the
        kernel's file references go with it).

        Raises: ValueError when no table is registered; BadDescriptor after
        shutdown; the kernel's error otherwise (e.g. ResourceExhausted/ENOMEM).
        Availability: Linux >= 5.1."""
        if self._closed:
            raise _ie.closed_error()
        if not self._nfiles:
            raise ValueError("no files are registered")
        _ev.io_uring_register(self._ring_fd, IORING_UNREGISTER_FILES)
        self._nfiles = 0

    def submit_fixed_reads(self, fd: Any, indices: Iterable[int], offsets: Iterable[int], *,
                           fixed_file: bool = False) -> list[int]:
        """IORING_OP_READ_FIXED: read each registered buffer ``indices[i]`` (whole) from
        ``fd`` at ``offsets[i]`` (-1: the file position). Results and ids as
        :meth:`submit_reads`.

        Args: fd: a descriptor, or with ``fixed_file`` an index into
            :meth:`register_files`' table.
        Raises: as :meth:`submit_reads` (TypeError/ValueError before anything is
            submitted, WouldBlock at capacity, BadDescriptor after shutdown);
            ValueError for an index out of range, a fixed-file index outside the
            table, or when no buffers are registered; TypeError for a read into a
            read-only one. Per-op errors (-EBADF, -EINVAL, -EFAULT...) come back as
            results. Availability: Linux >= 5.1 (io_uring).
        """
        return self._submit_fixed(fd, indices, offsets, False, fixed_file)

    def submit_fixed_writes(self, fd: Any, indices: Iterable[int], offsets: Iterable[int], *,
                            fixed_file: bool = False) -> list[int]:
        """IORING_OP_WRITE_FIXED: write each registered buffer ``indices[i]`` (whole) to
        ``fd`` at ``offsets[i]`` (-1: the file position); the write counterpart of
        :meth:`submit_fixed_reads`, with the same arguments, results and Raises.
        Availability: Linux >= 5.1 (io_uring)."""
        return self._submit_fixed(fd, indices, offsets, True, fixed_file)

    def _submit_fixed(self, fd: Any, indices: Iterable[int], offsets: Iterable[int],
                      write: bool, fixed_file: bool) -> list[int]:
        if self._closed:
            raise _ie.closed_error()
        if not isinstance(fixed_file, bool):
            raise TypeError("fixed_file must be a bool")
        f = _ie._fd(fd)
        if fixed_file and f >= self._nfiles:
            raise ValueError(f"fixed file index {f} not in the registered table "
                             f"of {self._nfiles}")
        idx = indices if type(indices) is list else list(indices)
        offs = offsets if type(offsets) is list else list(offsets)
        if len(idx) > self._sq_entries:  # validate all before the first flush
            n = self._core.fixed_state()[0]
            if len(idx) != len(offs):
                raise ValueError("indices and offsets differ in length")
            for i, o in zip(idx, offs, strict=True):
                _ie._int_field(i, "buffer index", 0, n - 1)
                _ie._int_field(o, "offset", -1, (1 << 63) - 1)
        return self._drive(self._ring.prep_fixed, f, idx, offs, write, fixed=fixed_file)

    # -- provided buffers and multishot recv ---------------------------------------
    @staticmethod
    def probe_multishot_recv() -> tuple[bool, str]:
        """(True, "ok") if provided-buffer rings and multishot recv work here.

        Probed once per process on a scratch ring: IORING_REGISTER_PBUF_RING
        (Linux >= 5.19), then one IORING_OP_RECV with IORING_RECV_MULTISHOT (Linux
        >= 6.0) over a socketpair. Else (False, why).
        """
        pbuf, recv, why = _probe_extras()
        return (pbuf and recv), why

    def provide_buffers(self, group: int, buffers: Iterable[Any]) -> None:
        """io_uring_register(IORING_REGISTER_PBUF_RING): a ring of provided buffers.

        Every buffer goes into the ring at once, its buffer id (``bid``) being its
        index. :meth:`submit_recv_multishot` on ``group`` then lets the kernel pick a
        buffer per received chunk. The ring memory is page-aligned anonymous memory
        mapped here; each buffer stays exported (a bytearray cannot be resized, an
        mmap cannot be closed) until :meth:`remove_buffers` or shutdown.

        Args: group: the buffer group id, 0..65535. buffers: a power of two
            (1..32768) of writable contiguous buffers of 1 byte..0x7ffff000 bytes
            each (sizes may differ; no two may share memory).
        Raises: TypeError/ValueError (bad input, before any syscall);
            AlreadyExists/EEXIST (the group exists); Unsupported (no
            IORING_REGISTER_PBUF_RING: Linux < 5.19); ResourceExhausted/ENOMEM;
            BadDescriptor after shutdown.
        Availability: Linux >= 5.19 (io_uring).
        """
        if self._closed:
            raise _ie.closed_error()
        bufs = buffers if type(buffers) is list else list(buffers)
        core = self._core
        size = core.pbuf_add(group, bufs)  # validates and pins; no syscall
        try:
            if not _probe_extras()[0]:
                raise errors.unsupported(f"IORING_REGISTER_PBUF_RING ({_probe_extras()[2]})",
                                         syscall="io_uring_register")
            self._provide(group, size, bufs)
        except BaseException:
            addr = core.pbuf_drop(group)
            if addr:
                _s.syscall(_NR_MUNMAP, addr, size)
            raise

    def _provide(self, group: int, size: int, bufs: list[Any]) -> None:
        """Map the ring of a group pinned by pbuf_add, fill it, register it."""
        addr = _s.check(_s.syscall(_NR_MMAP, 0, size, _PROT_RW, _MAP_PRIVATE_ANON, -1, 0),
                        "mmap")
        try:
            self._core.pbuf_attach(group, addr)
        except BaseException:
            _s.syscall(_NR_MUNMAP, addr, size)
            raise
        # (the caller's pbuf_drop returns addr from now on and unmaps it on failure)
        _ev.io_uring_register(self._ring_fd, IORING_REGISTER_PBUF_RING,
                              _buf_reg(addr, len(bufs), group), 1)
        self._pbufs[group] = (addr, size, [memoryview(b).cast("B") for b in bufs])

    def remove_buffers(self, group: int) -> None:
        """io_uring_register(IORING_UNREGISTER_PBUF_RING): drop a provided-buffer ring.

        Releases the buffers' exports and unmaps the ring.
        Raises: TypeError/ValueError (not an int, or no such group); Busy/EBUSY
            while a multishot recv on the group is in flight (cancel and reap it
            first); BadDescriptor after shutdown.
        Availability: Linux >= 5.19.
        """
        if self._closed:
            raise _ie.closed_error()
        self._group(group)
        if self._core.pbuf_state(group)[1]:
            raise errors.from_errno(_errno.EBUSY, syscall="io_uring_register",
                                    message=f"a multishot recv on group {group} is in flight")
        _ev.io_uring_register(self._ring_fd, IORING_UNREGISTER_PBUF_RING,
                              _buf_reg(0, 0, group), 1)
        self._core.pbuf_drop(group)
        addr, size = self._pbufs.pop(group)[:2]
        _s.syscall(_NR_MUNMAP, addr, size)

    def submit_recv_multishot(self, fd: Any, group: int, flags: int = 0) -> int:
        """IORING_OP_RECV with IORING_RECV_MULTISHOT and IOSQE_BUFFER_SELECT from ``group``.

        One submission, one :class:`~vllsi.io_engine.CompletionResult` per received
        chunk under the returned id: ``result`` is the byte count (0: end of stream,
        negative: -errno) and ``flags`` the CQE flags. With ``IORING_CQE_F_BUFFER``
        set, the data is in buffer ``bid = flags >> 16`` (:meth:`provided`), which is
        the caller's until :meth:`recycle`. The op stays in flight while ``more``
        (IORING_CQE_F_MORE) is set; the completion without it is the last one: EOF
        (0), an error, -ECANCELED after :meth:`cancel`, -ENOBUFS when the ring ran
        dry (recycle buffers, then submit again), or data (result > 0) when the CQ
        ring was full (take it, then submit again).

        Args: fd: a socket. group: a group set up by :meth:`provide_buffers`.
            flags: MSG_* flags for recv (not MSG_WAITALL).
        Raises: TypeError/ValueError (bad input, unknown group: nothing submitted);
            Unsupported (no IORING_RECV_MULTISHOT: Linux < 6.0); WouldBlock at
            capacity; BadDescriptor after shutdown.
        Availability: Linux >= 6.0 (io_uring).
        """
        if self._closed:
            raise _ie.closed_error()
        f = _ie._fd(fd)
        _ie._int_field(flags, "flags", 0, 0xFFFFFFFF)
        self._group(group)
        if not _probe_extras()[1]:
            raise errors.unsupported(f"IORING_RECV_MULTISHOT ({_probe_extras()[2]})",
                                     syscall="io_uring_enter")
        sid: int = self._core.recv_multishot(f, group, flags)
        return sid

    def provided(self, group: int, bid: int, n: int) -> memoryview:
        """The first ``n`` bytes of buffer ``bid`` of ``group`` (no syscall).

        The bytes of a completion that carried IORING_CQE_F_BUFFER are valid until
        that buffer is given back with :meth:`recycle`: from then on the kernel may
        fill it again. Raises: TypeError/ValueError (unknown group, bid or n out of
        range). Availability: Linux >= 5.19.
        """
        views = self._group(group)[2]
        _ie._int_field(bid, "bid", 0, len(views) - 1)
        v = views[bid]
        _ie._int_field(n, "n", 0, len(v))
        return v[:n]

    def recycle(self, group: int, bid: int) -> None:
        """Give buffer ``bid`` back to ``group``'s ring (no syscall).

        Runs in C (bound to the instance): the entry is written at our tail, then the
        tail is stored with release, so the kernel sees the entry before the tail.
        Only a buffer a completion handed out can be recycled, once.
        Raises: TypeError/ValueError (unknown group, bid out of range, a buffer that
        is in the ring already); BadDescriptor after shutdown.
        Availability: Linux >= 5.19.
        """
        self._core.recycle(group, bid)

    def _group(self, group: int) -> tuple[int, int, list[memoryview]]:
        _ie._int_field(group, "group", 0, 65535)
        entry = self._pbufs.get(group)
        if entry is None:
            raise ValueError(f"no provided buffers in group {group}")
        return entry

    # -- completion ---------------------------------------------------------------
    def poll(self, timeout: float | None = None) -> list[_ie.CompletionResult]:
        """Reap completions: None waits for one (or a wake), 0 never waits.

        Runs in C (the ring's ``poll``, bound to the instance): reap the CQ ring; if
        empty and allowed to wait, keep the wake read armed and io_uring_enter with
        GETEVENTS | EXT_ARG (relative timespec), GIL released. EINTR: pending signal
        handlers run (their exception propagates), then the wait resumes with the
        remaining time (PEP 475). Raises: TypeError/ValueError (bad timeout),
        BadDescriptor after shutdown, the enter's error (engine faults only).
        """
        out: list[_ie.CompletionResult] = self._core.poll(timeout)
        return out

    def cancel(self, submission_id: int) -> None:
        """Cancel an in-flight op (IORING_OP_ASYNC_CANCEL); it completes with
        -ECANCELED, or normally if it was already done. No-op for unknown ids."""
        if isinstance(submission_id, bool) or not isinstance(submission_id, int):
            raise TypeError("submission_id must be int")
        if self._closed:
            raise _ie.closed_error()
        if not self._ring.owns(submission_id):
            return
        self._raw(IORING_OP_ASYNC_CANCEL, 0, submission_id, 0, 0, 0, _INTERNAL_CANCEL)
        self._flush()
        self._cancelled += 1

    def _raw(self, *sqe: int) -> None:
        while not self._ring.raw(*sqe, 0):
            self._flush()

    def wake(self) -> None:
        """Interrupt a poll blocked in another thread (writes the wake eventfd)."""
        with self._wake_lock:
            if not self._closed:
                _s.syscall(_ops.NR_WRITE, self._wakefd, self._one_addr, 8)

    # -- shutdown -----------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel everything in flight, reap it, release every pin, unmap, close."""
        with self._wake_lock:
            if self._closed:
                return
            self._closed = True
        ring = self._ring
        ring.close()
        leftovers: list[_ie.CompletionResult] = []
        self._raw(IORING_OP_ASYNC_CANCEL, 0, 0, 0, 0,
                  IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL, _INTERNAL_SHUTDOWN)
        self._flush()
        deadline = time.monotonic() + self.shutdown_grace
        while True:
            leftovers.extend(ring.reap())
            st = ring.state()
            if st[2] == 0 and not st[3]:
                break
            if time.monotonic() > deadline:
                warnings.warn("io_uring requests did not complete at shutdown; their "
                              "buffers stay pinned for the life of the process",
                              ResourceWarning, stacklevel=2)
                _graveyard.append((ring, self._maps))
                self._maps = []
                self._ring = None
                break
            if st[3] or st[2]:
                # Re-cancel (requests may have been queued behind) and wait a little.
                self._raw(IORING_OP_ASYNC_CANCEL, 0, 0, 0, 0,
                          IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL,
                          _INTERNAL_SHUTDOWN)
                ring.wait(50_000_000)
        from vllsi.embedded import _close_unreaped_accepts

        _close_unreaped_accepts(leftovers)
        in_graveyard = self._ring is None
        self._ring = None
        self._release()
        if in_graveyard:
            _graveyard.append(self._pbufs)  # the kernel may still fill them: keep the maps
        else:
            for group, (addr, size, _views) in self._pbufs.items():
                ring.pbuf_drop(group)  # nothing selects from it any more: unpin
                _s.syscall(_NR_MUNMAP, addr, size)
        self._pbufs = {}
        if not in_graveyard and ring.fixed_state()[0]:
            ring.unpin_buffers()  # every fixed op was reaped; the kernel pins its own pages

    def _release(self) -> None:
        for addr, size in self._maps:
            _s.syscall(_NR_MUNMAP, addr, size)
        self._maps = []
        for fd in (self._wakefd, self._ring_fd):
            if fd >= 0:
                _s.syscall(_ops.NR_CLOSE, fd)
        self._wakefd = self._ring_fd = -1

    def statistics(self) -> dict[str, int]:
        """Counters: submitted, completed, cancelled, waits, enters, in_flight."""
        ring: Any = self._core  # kept after shutdown, for the counters
        submitted, completed, waits, enters = ring.counters()
        return {"submitted": submitted, "completed": completed,
                "cancelled": self._cancelled, "waits": waits, "enters": enters,
                "in_flight": 0 if self._ring is None else ring.state()[2]}



def _buf_reg(addr: int, entries: int, group: int) -> bytes:
    """struct io_uring_buf_reg {ring_addr, ring_entries, bgid, flags, resv[3]}."""
    return _struct.pack("=QIHH3Q", addr, entries, group, 0, 0, 0, 0)


def _probe_extras() -> tuple[bool, bool, str]:
    global _extras
    if _extras is None:
        _extras = _run_extras_probe()
    return _extras


def _run_extras_probe() -> tuple[bool, bool, str]:
    ok, why = IoUringDriver.probe()
    if not ok:
        return False, False, why
    from vllsi.linux import net

    e = IoUringDriver(_ie.IoEngineConfig(entries=2))
    pair: tuple[int, ...] = ()
    try:
        buf = bytearray(16)
        size = e._core.pbuf_add(0, [buf])
        try:
            e._provide(0, size, [buf])
        except BaseException as exc:
            addr = e._core.pbuf_drop(0)
            if addr:
                _s.syscall(_NR_MUNMAP, addr, size)
            if isinstance(exc, errors.VllsiError) and exc.errno == _errno.EINVAL:
                return False, False, "IORING_REGISTER_PBUF_RING refused: EINVAL (Linux < 5.19)"
            raise  # anything else (ENOMEM...) is not an answer: not cached
        pair = net.socketpair(net.AF_UNIX, net.SOCK_STREAM | net.SOCK_CLOEXEC)
        net.sendto(pair[1], b"x")
        sid = e._core.recv_multishot(pair[0], 0, 0)
        for _ in range(10):  # the byte is there: the recv completes at once
            got = [r for r in e.poll(0.5) if r.submission_id == sid]
            if got:
                res = got[0].result
                if res == 1 and got[0].flags & IORING_CQE_F_BUFFER:
                    return True, True, "ok"
                if res == -_errno.EINVAL:
                    return True, False, "IORING_RECV_MULTISHOT refused: EINVAL (Linux < 6.0)"
                return True, False, f"IORING_RECV_MULTISHOT: result {res}"
        return True, False, "IORING_RECV_MULTISHOT: no completion"
    finally:
        e.shutdown()
        for fd in pair:
            _s.syscall(_ops.NR_CLOSE, fd)


def _u32_at(address: int) -> int:
    v: int = _ev.ffi.cast("uint32_t *", address)[0]
    return int(v)


def _precheck(ops: list[Any]) -> None:
    """Validate a batch larger than the SQ ring before any of it goes in."""
    for op in ops:
        t = type(op)
        if not isinstance(op, _ie.OP_TYPES):
            raise TypeError(f"not an engine op: {t.__name__}")
        if isinstance(op, (_ie.Read, _ie.Recv, _ie.Write, _ie.Send)):
            p = _ops.Pin(op.buf, isinstance(op, (_ie.Read, _ie.Recv)), op.len)
            p.release()
        elif isinstance(op, _ie.Connect):
            _encode_connect(op)
