"""Panics: the shared core of vllsi.init (handler, PanicInfo) and vllsi.thread
(ThreadPanicked), so neither imports the other.

A panic is an uncaught exception in a vllsi-managed thread (the main thread
after ``vllsi.init.init()``, or a ``thread_spawn`` thread). The default handler
writes ``thread '<name>' panicked at <file>:<line>: <message>`` to fd 2, where
``<file>:<line>`` is the innermost traceback frame (where it was raised).
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PanicInfo", "current_handler", "info_from_exception", "panic_impl",
           "report", "set_panic_handler", "thread_display_name"]


@dataclass(frozen=True)
class PanicInfo:
    """What a panic handler receives."""

    message: str
    location: str  # "<file>:<line>"
    thread_id: int  # the OS thread id (gettid / GetCurrentThreadId)
    thread_name: str = ""
    exception: BaseException | None = None

    def line(self) -> str:
        """The panic line, without a trailing newline."""
        return f"thread '{self.thread_name}' panicked at {self.location}: {self.message}"


PanicHandler = Callable[[PanicInfo], object]
_handler: PanicHandler | None = None
_main_name = ["main"]


def thread_display_name(thread: threading.Thread | None = None) -> str:
    """``main`` for the main thread, else the thread's name."""
    t = thread or threading.current_thread()
    if t is threading.main_thread():
        return _main_name[0]
    return t.name


def info_from_exception(exc: BaseException, thread: threading.Thread | None = None) -> PanicInfo:
    """Build the PanicInfo of ``exc`` (location from its innermost traceback frame)."""
    tb = exc.__traceback__
    location = "<unknown>:0"
    if tb is not None:
        frames = traceback.extract_tb(tb)
        if frames:
            location = f"{frames[-1].filename}:{frames[-1].lineno}"
    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    t = thread or threading.current_thread()
    return PanicInfo(message, location, t.native_id or threading.get_native_id(),
                     thread_display_name(t), exc)


def panic_impl(info: PanicInfo) -> None:
    """The default handler: write the panic line to fd 2 (os.write, unbuffered)."""
    data = (info.line() + "\n").encode("utf-8", "backslashreplace")
    while data:
        try:
            n = os.write(2, data)
        except InterruptedError:
            continue
        except OSError:
            return
        data = data[n:]


def set_panic_handler(handler: PanicHandler | None) -> PanicHandler | None:
    """Install ``handler`` (None restores the default); returns the previous one."""
    global _handler
    if handler is not None and not callable(handler):
        raise TypeError("panic handler must be callable")
    prev, _handler = _handler, handler
    return prev


def current_handler() -> PanicHandler:
    return _handler or panic_impl


def report(info: PanicInfo) -> None:
    """Run the installed handler; a failing handler falls back to the default."""
    try:
        current_handler()(info)
    except Exception:
        panic_impl(info)
