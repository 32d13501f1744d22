"""Runtime start-up and shutdown, and panics.

``init(config)`` runs these steps once, in this order, and returns an
:class:`InitInfo` whose ``steps`` lists them as they ran:

1. ``validate``: check the :class:`InitConfig` (InvalidConfig otherwise);
2. ``sigpipe``: set SIGPIPE's disposition (``"ignore"``, CPython's default and
   ours; ``"default"`` to die on a broken pipe as C programs do; ``"keep"``),
   through CPython's ``signal`` module, which owns the handler table;
3. ``stack``: record the main thread's stack bounds and guard gap
   (:class:`StackBounds`, from /proc/self/maps, RLIMIT_STACK and the kernel's
   default ``stack_guard_gap``);
4. ``name``: name the main thread for panic messages (``main`` by default);
5. ``tls``: create the calling thread's TLS slot table (``vllsi.tls.init_thread``;
   a documented no-op while ``vllsi.tls`` is not importable);
6. ``panic_handler``: install ``sys.excepthook`` and ``threading.excepthook``;
7. ``cleanup``: register cleanup with ``atexit``.

Cleanup undoes them in reverse order, exactly once — on :func:`shutdown`, on a
main-thread panic, or at interpreter exit, whichever comes first — after the
callables given to :func:`register_cleanup` (newest first). ``init`` must run on
the main thread (PlatformError otherwise: only it may change signal dispositions).

Panics. After ``init``, an uncaught exception is a *panic*. The handler (default
:func:`panic_impl`) receives a :class:`PanicInfo` and writes ``thread '<name>'
panicked at <file>:<line>: <message>`` to fd 2; ``<file>:<line>`` is the
innermost traceback frame. In the main thread the process then runs cleanup
once and exits with status 101 — even if a custom handler returns — without
joining other threads (as Rust does). In any other thread only that thread
ends. KeyboardInterrupt and SystemExit are not panics: they keep CPython's
behaviour.

Backend interface (``vllsi/<os>/impl/init.py``): ``main_stack() -> (low, high,
guard)``.
"""

from __future__ import annotations

import atexit
import contextlib
import errno as _errno
import importlib
import os
import signal as _pysignal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

from vllsi import _panic, _platform, errors
from vllsi._panic import PanicInfo, panic_impl, set_panic_handler
from vllsi.errors import AlreadyInitialized, InitError, InvalidConfig, PlatformError

__all__ = [
    "AlreadyInitialized",
    "InitConfig",
    "InitError",
    "InitInfo",
    "InvalidConfig",
    "PanicInfo",
    "PlatformError",
    "StackBounds",
    "cleanup_thread",
    "init",
    "init_thread",
    "is_initialized",
    "panic_impl",
    "register_cleanup",
    "set_panic_handler",
    "shutdown",
]

_impl: Any = _platform.os_module("init")

PANIC_EXIT_STATUS = 101
_SIGPIPE_MODES = ("ignore", "default", "keep")


@dataclass(frozen=True)
class InitConfig:
    """What :func:`init` sets up.

    ``sigpipe``: "ignore" (default), "default" or "keep". ``main_thread_name``:
    the name panic messages use for the main thread (non-empty, no NUL or
    newline). ``panic_handler``: install the panic hooks (default True).
    ``panic_exit_status``: the main thread's panic status (1..255, default 101).
    """

    sigpipe: str = "ignore"
    main_thread_name: str = "main"
    panic_handler: bool = True
    panic_exit_status: int = PANIC_EXIT_STATUS

    def validate(self) -> None:
        """Raise InvalidConfig (errno EINVAL) naming the first bad field."""
        problem = None
        if self.sigpipe not in _SIGPIPE_MODES:
            problem = f"sigpipe must be one of {_SIGPIPE_MODES}, not {self.sigpipe!r}"
        elif (not isinstance(self.main_thread_name, str) or not self.main_thread_name
              or any(c in self.main_thread_name for c in "\0\n")):
            problem = "main_thread_name must be a non-empty one-line str"
        elif not isinstance(self.panic_handler, bool):
            problem = "panic_handler must be a bool"
        elif (isinstance(self.panic_exit_status, bool)
              or not isinstance(self.panic_exit_status, int)
              or not 1 <= self.panic_exit_status <= 255):
            problem = "panic_exit_status must be an int in 1..255"
        if problem:
            raise errors.from_errno(_errno.EINVAL, syscall="init", cls=InvalidConfig,
                                    message=problem)


@dataclass(frozen=True)
class StackBounds:
    """The main thread's stack: ``[low, high)`` is the range it may grow over
    (RLIMIT_STACK below the top of its mapping); ``guard`` bytes below ``low``
    are kept unmapped by the kernel (stack_guard_gap)."""

    low: int
    high: int
    guard: int


@dataclass(frozen=True)
class InitInfo:
    """What :func:`init` did: ``steps`` in the order they ran, and the stack."""

    steps: tuple[str, ...]
    stack: StackBounds | None
    main_thread_name: str


class _Runtime:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.initialized = False
        self.config = InitConfig()
        self.undo: list[tuple[str, Callable[[], None]]] = []
        self.user: list[Callable[[], object]] = []
        self.panicking = False


_rt = _Runtime()


def is_initialized() -> bool:
    """Whether :func:`init` has run and cleanup has not. Availability: every OS."""
    return _rt.initialized


def _tls() -> Any:
    try:  # vllsi.tls is written in parallel; optional until it lands
        return importlib.import_module("vllsi.tls")
    except ImportError:
        return None


def init_thread() -> None:
    """Create the calling thread's TLS slot table (``vllsi.tls.init_thread``).

    Idempotent. A no-op while ``vllsi.tls`` is not importable (new threads get
    their table lazily anyway, SPEC §3). Availability: every OS.
    """
    tls = _tls()
    if tls is not None and hasattr(tls, "init_thread"):
        tls.init_thread()


def cleanup_thread() -> None:
    """Drop the calling thread's TLS slot table (``vllsi.tls.cleanup_thread``).

    Idempotent; a no-op while ``vllsi.tls`` is not importable. Availability: every OS.
    """
    tls = _tls()
    if tls is not None and hasattr(tls, "cleanup_thread"):
        tls.cleanup_thread()


def register_cleanup(fn: Callable[[], object]) -> None:
    """Run ``fn()`` at cleanup (newest first, before init's own steps are undone).

    Raises: TypeError if not callable; InitError (EINVAL) before init.
    """
    if not callable(fn):
        raise TypeError("cleanup must be callable")
    with _rt.lock:
        if not _rt.initialized:
            raise errors.from_errno(_errno.EINVAL, syscall="register_cleanup", cls=InitError,
                                    message="vllsi.init.init() has not run")
        _rt.user.append(fn)


def _panic_exit(info: PanicInfo) -> None:
    """Report a main-thread panic, clean up once, exit with the panic status."""
    status = _rt.config.panic_exit_status
    _rt.panicking = True
    with contextlib.suppress(BaseException):
        _panic.report(info)
    try:
        _run_cleanup()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except BaseException:
                pass
        os._exit(status)


def _sys_hook(prev: Callable[..., Any]) -> Callable[..., Any]:
    def hook(tp: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        if (not _rt.initialized or issubclass(tp, (KeyboardInterrupt, SystemExit))
                or threading.current_thread() is not threading.main_thread()):
            prev(tp, value, tb)
            return
        if value.__traceback__ is None and tb is not None:
            value = value.with_traceback(tb)
        _panic_exit(_panic.info_from_exception(value, threading.main_thread()))
    return hook


def _thread_hook(prev: Callable[..., Any]) -> Callable[..., Any]:
    def hook(args: Any) -> None:
        if not _rt.initialized or args.exc_type is None or \
                issubclass(args.exc_type, SystemExit):
            prev(args)
            return
        value = args.exc_value
        if value is None:
            value = args.exc_type()
        if value.__traceback__ is None and args.exc_traceback is not None:
            value = value.with_traceback(args.exc_traceback)
        thread = args.thread or threading.current_thread()
        info = _panic.info_from_exception(value, thread)
        if thread is threading.main_thread():
            _panic_exit(info)
            return
        with contextlib.suppress(BaseException):
            _panic.report(info)
    return hook


def init(config: InitConfig | None = None) -> InitInfo:
    """Start the vllsi runtime: the seven steps of the module docstring, once, in order.

    Args: config: an :class:`InitConfig` (None: the defaults).
    Returns: an :class:`InitInfo` (``steps`` as they ran).
    Raises:
        AlreadyInitialized (EALREADY) if already initialised; InvalidConfig (EINVAL)
        for a bad config (nothing changed); PlatformError (EPERM) off the main
        thread, or when a step fails (the steps done so far are undone);
        TypeError for a config that is not an InitConfig.
    Availability: every OS (the ``stack`` step: Linux; None elsewhere).
    """
    if config is None:
        config = InitConfig()
    if not isinstance(config, InitConfig):
        raise TypeError(f"config must be an InitConfig, not {type(config).__name__}")
    with _rt.lock:
        if _rt.initialized:
            raise errors.from_errno(_errno.EALREADY, syscall="init", cls=AlreadyInitialized,
                                    message="vllsi is already initialized")
        steps: list[str] = []
        config.validate()
        steps.append("validate")
        if threading.current_thread() is not threading.main_thread():
            raise errors.from_errno(_errno.EPERM, syscall="init", cls=PlatformError,
                                    message="init() must run on the main thread")
        undo: list[tuple[str, Callable[[], None]]] = []
        try:
            stack = _steps(config, steps, undo)
        except BaseException as exc:
            for _name, fn in reversed(undo):
                with contextlib.suppress(Exception):
                    fn()
            if isinstance(exc, InitError) or not isinstance(exc, Exception):
                raise
            raise errors.from_errno(_errno.EPERM, syscall="init", cls=PlatformError,
                                    message=f"init step {len(steps) + 1} failed: {exc}") \
                from exc
        _rt.config = config
        _rt.undo = undo
        _rt.user = []
        _rt.panicking = False
        _rt.initialized = True
        return InitInfo(tuple(steps), stack, config.main_thread_name)


def _nothing() -> None:
    pass


def _steps(config: InitConfig, steps: list[str],
           undo: list[tuple[str, Callable[[], None]]]) -> StackBounds | None:
    if config.sigpipe != "keep" and hasattr(_pysignal, "SIGPIPE"):
        sigpipe = getattr(_pysignal, "SIGPIPE")  # noqa: B009 (absent on Windows)
        prev = _pysignal.getsignal(sigpipe)
        _pysignal.signal(sigpipe, _pysignal.SIG_IGN if config.sigpipe == "ignore"
                         else _pysignal.SIG_DFL)

        def restore_sigpipe() -> None:
            _pysignal.signal(sigpipe, prev)
        undo.append(("sigpipe", restore_sigpipe))
    else:
        undo.append(("sigpipe", _nothing))
    steps.append("sigpipe")

    stack: StackBounds | None = None
    try:
        low, high, guard = _impl.main_stack()
        stack = StackBounds(int(low), int(high), int(guard))
    except errors.Unsupported:
        stack = None
    undo.append(("stack", _nothing))  # only recorded: nothing to undo
    steps.append("stack")

    old_name = _panic._main_name[0]
    _panic._main_name[0] = config.main_thread_name
    undo.append(("name", lambda: _panic._main_name.__setitem__(0, old_name)))
    steps.append("name")

    init_thread()
    undo.append(("tls", cleanup_thread))
    steps.append("tls")

    if config.panic_handler:
        prev_sys, prev_thr = sys.excepthook, threading.excepthook
        sys.excepthook = _sys_hook(prev_sys)
        threading.excepthook = _thread_hook(prev_thr)

        def unhook() -> None:
            sys.excepthook, threading.excepthook = prev_sys, prev_thr
        undo.append(("panic_handler", unhook))
    else:
        undo.append(("panic_handler", _nothing))
    steps.append("panic_handler")

    atexit.register(_run_cleanup)
    undo.append(("cleanup", lambda: atexit.unregister(_run_cleanup)))
    steps.append("cleanup")
    return stack


def _run_cleanup() -> list[str]:
    """Run cleanup once: user callables (newest first), then init's steps reversed."""
    with _rt.lock:
        if not _rt.initialized:
            return []
        _rt.initialized = False
        user, _rt.user = _rt.user, []
        undo, _rt.undo = _rt.undo, []
    done: list[str] = []
    for fn in reversed(user):
        try:
            fn()
        except Exception as exc:
            sys.unraisablehook(cast(Any, _Unraisable(exc, fn)))
    for name, fn in reversed(undo):
        if name == "panic_handler" and _rt.panicking:
            done.append(name)  # keep the hooks until the process exits
            continue
        try:
            fn()
        except Exception as exc:
            sys.unraisablehook(cast(Any, _Unraisable(exc, fn)))
        done.append(name)
    return done


class _Unraisable:
    def __init__(self, exc: BaseException, obj: object) -> None:
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = "Exception ignored in vllsi.init cleanup"
        self.object = obj


def shutdown() -> list[str]:
    """Run cleanup now (once): registered callables newest first, then init's
    steps in reverse order. A no-op (returns []) if not initialised.

    Returns: the names of the init steps undone, in the order they were undone.
    Availability: every OS.
    """
    return _run_cleanup()
