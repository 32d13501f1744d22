"""Bad input to spawn/kill/signal calls is rejected before any syscall (strace proof)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance._support import UNDER_QEMU, linux_only, skip
from conformance._support.cc import python_argv

pytestmark = linux_only

CHILD = r"""
import os
from vllsi import process_ops as P, signal as S, linux as L
bad = [
    lambda: P.spawn("sh"), lambda: P.spawn([]), lambda: P.spawn(["sh\0"]),
    lambda: P.spawn(["sh"], stdout="pipe"), lambda: P.spawn(["sh"], env={"A=": "b"}),
    lambda: P.spawn(["sh"], pass_fds=[-2]), lambda: P.spawn(["sh"], cwd=3.5),
    lambda: P.kill(os.getpid(), 99), lambda: P.tgkill(0, 0, 1), lambda: P.exit_group(-1),
    lambda: S.block([0]), lambda: S.set_mask("SIGINT"), lambda: S.wait([], 1),
    lambda: S.wait([10], -1), lambda: S.kill(1, 65),
    lambda: L.rt_sigprocmask(0, 1 << 64), lambda: L.rt_sigtimedwait(0), lambda: L.kill(1, -1),
    lambda: L.pidfd_open(-5), lambda: L.pidfd_send_signal(-1, 9), lambda: L.wait4("x"),
    lambda: L.waitid(-1, 0), lambda: L.signalfd4(-2, 1), lambda: L.exit_group(256),
]
for f in bad:  # warm every code path first (imports, cffi types)
    try: f()
    except (TypeError, ValueError): pass
os.write(2, b"<<BEGIN>>")
for f in bad:
    try:
        f()
    except (TypeError, ValueError):
        pass
    else:
        raise SystemExit("accepted bad input")
os.write(2, b"<<END>>")
"""

WATCHED = ("clone", "clone3", "vfork", "execve", "pipe2", "openat", "rt_sigprocmask",
           "rt_sigtimedwait", "kill", "tgkill", "pidfd_open", "pidfd_send_signal", "wait4",
           "waitid", "signalfd4", "exit_group", "mmap")


@pytest.mark.covers("process_ops.spawn", "process_ops.kill", "process_ops.tgkill",
                    "process_ops.exit_group", "linux.rt_sigprocmask", "linux.rt_sigtimedwait",
                    "linux.kill", "linux.pidfd_open", "linux.pidfd_send_signal", "linux.wait4",
                    "linux.waitid", "linux.signalfd4", "linux.exit_group")
def test_rejected_before_the_syscall(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        skip("environment", "strace is not installed")
    if UNDER_QEMU:
        skip("environment", "strace would trace qemu's host syscalls, not the guest's")
    log = tmp_path / "trace"
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([strace, "-f", "-qq", "-o", str(log), "-e", "trace=" + ",".join(
        ("write", *WATCHED)), *python_argv("-c", CHILD)], cwd=root, env=dict(os.environ),
        capture_output=True, text=True, timeout=300)
    if r.returncode != 0 and "ptrace" in r.stderr:
        skip("privilege", f"strace cannot attach: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    text = log.read_text()
    window = text.split("<<BEGIN>>", 1)[1].split("<<END>>", 1)[0]
    lines = [ln for ln in window.splitlines()[1:-1] if ln.strip()]
    assert lines == [], "syscalls made for rejected input:\n" + "\n".join(lines)
