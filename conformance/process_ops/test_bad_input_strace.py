"""Bad input to spawn/kill/signal calls is rejected before any syscall (strace proof)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance._support import linux_only
from conformance._support.strace import bad_input_script, traced_window

pytestmark = linux_only

CALLS = [
    'P.spawn("sh")',
    'P.spawn([])',
    'P.spawn(["sh\\0"])',
    'P.spawn(["sh"], stdout="pipe")',
    'P.spawn(["sh"], env={"A=": "b"})',
    'P.spawn(["sh"], pass_fds=[-2])',
    'P.spawn(["sh"], cwd=3.5)',
    'P.kill(os.getpid(), 99)',
    'P.tgkill(0, 0, 1)',
    'P.exit_group(-1)',
    'S.block([0])',
    'S.set_mask("SIGINT")',
    'S.wait([], 1)',
    'S.wait([10], -1)',
    'S.kill(1, 65)',
    'L.rt_sigprocmask(0, 1 << 64)',
    'L.rt_sigtimedwait(0)',
    'L.kill(1, -1)',
    'L.pidfd_open(-5)',
    'L.pidfd_send_signal(-1, 9)',
    'L.wait4("x")',
    'L.waitid(-1, 0)',
    'L.signalfd4(-2, 1)',
    'L.exit_group(256)',
]

WATCHED = ("clone", "clone3", "vfork", "execve", "pipe2", "openat", "rt_sigprocmask",
           "rt_sigtimedwait", "kill", "tgkill", "pidfd_open", "pidfd_send_signal", "wait4",
           "waitid", "signalfd4", "exit_group", "mmap")


@pytest.mark.covers("process_ops.spawn", "process_ops.kill", "process_ops.tgkill",
                    "process_ops.exit_group", "linux.rt_sigprocmask", "linux.rt_sigtimedwait",
                    "linux.kill", "linux.pidfd_open", "linux.pidfd_send_signal", "linux.wait4",
                    "linux.waitid", "linux.signalfd4", "linux.exit_group")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    lines = traced_window(bad_input_script('from vllsi import process_ops as P, signal as S, linux as L\n', CALLS), WATCHED, tmp_path)
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
