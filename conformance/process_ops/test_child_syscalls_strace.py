"""Between clone and execve the child makes only spawn's own syscalls (strace -f).

No Python runs there: no futex (no lock taken), no brk/mmap (no allocation), no
read/openat (no import) — only signal resets, descriptor moves, chdir, the mask
and execve. Tier asm: vllsi's C; tier libc: glibc's posix_spawn child.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance._support import UNDER_QEMU, linux_only, skip
from conformance._support.cc import python_argv

pytestmark = linux_only

CHILD = r"""
import os, threading
from vllsi.process_ops import spawn, PIPE, DEVNULL
stop = threading.Event()
def busy():
    while not stop.is_set():
        [str(i) for i in range(100)]
        stop.wait(0.0005)
threads = [threading.Thread(target=busy, daemon=True) for _ in range(2)]
for t in threads: t.start()
r, w = os.pipe()
try:
    os.write(2, b"<<BEGIN>>")
    c = spawn(["/bin/true"], cwd="/", stdin=DEVNULL, stdout=PIPE, pass_fds=[w])
    assert c.communicate() == (b"", None) and c.returncode == 0
    os.write(2, b"<<END>>")
finally:
    stop.set()
    for t in threads: t.join()
"""

ALLOWED = {"rt_sigaction", "fcntl", "dup2", "dup3", "close", "close_range", "chdir",
           "rt_sigprocmask", "execve", "setsid", "prlimit64", "getrlimit", "write",
           "exit_group"}


@pytest.mark.covers("process_ops.spawn")
def test_child_runs_only_the_c_spawn(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        skip("environment", "strace is not installed")
    if UNDER_QEMU:
        skip("environment", "strace would trace qemu's host syscalls, not the guest's")
    log = tmp_path / "trace"
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([strace, "-f", "-qq", "-o", str(log), *python_argv("-c", CHILD)],
                       cwd=root, env=dict(os.environ), capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0 and "ptrace" in r.stderr:
        skip("privilege", f"strace cannot attach: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    window = log.read_text().split("<<BEGIN>>", 1)[1].split("<<END>>", 1)[0]
    assert re.search(r"clone3?\(.*flags=CLONE_VM\|CLONE_VFORK", window), window
    execs = re.findall(r"^(\d+)\s+execve\(\"/bin/true\"", window, re.M)
    assert len(execs) == 1, window
    child = execs[0]
    calls = []
    for line in window.splitlines():
        m = re.match(rf"{child}\s+(?:<\.\.\. )?(\w+)", line)
        if m:
            calls.append(m.group(1))
            if m.group(1) == "execve":
                break
    assert calls and calls[-1] == "execve", window
    assert set(calls) <= ALLOWED, calls
    assert "chdir" in calls and "rt_sigaction" in calls
    assert {"dup2", "dup3"} & set(calls)
