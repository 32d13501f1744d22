"""Run a child interpreter under strace and return the syscalls between two markers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conformance._support import UNDER_QEMU, skip
from conformance._support.proc import child_env, python_argv

PRELUDE = "import os\n"
BEGIN = 'os.write(2, b"<<BEGIN>>")\n'
END = 'os.write(2, b"<<END>>")\n'


def traced_window(code: str, watched: tuple[str, ...], tmp: Path) -> list[str]:
    """Run ``code`` (which must write the BEGIN and END markers to fd 2) under
    ``strace -f -e trace=write,<watched>``; return the traced lines between them.

    Skips (environment) without strace or under qemu, (privilege) if ptrace fails.
    """
    exe = shutil.which("strace")
    if exe is None:
        skip("environment", "strace is not installed (CI stage 05-apt.sh installs it)")
    if UNDER_QEMU:
        skip("environment", "strace would trace qemu's host syscalls, not the guest's")
    assert exe is not None
    log = tmp / "strace.log"
    r = subprocess.run([exe, "-f", "-qq", "-o", str(log), "-e",
                        "trace=" + ",".join(("write", *watched)), *python_argv("-c", code)],
                       env=child_env(), capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "ptrace" in r.stderr:
        skip("privilege", f"strace cannot attach: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    text = log.read_text()
    assert "<<BEGIN>>" in text and "<<END>>" in text, text[-2000:]
    window = text.split("<<BEGIN>>", 1)[1].split("<<END>>", 1)[0]
    return [ln for ln in window.splitlines()[1:-1] if ln.strip()]


def bad_input_script(setup: str, calls: list[str]) -> str:
    """A child script: ``setup``, then each call twice (warm-up, then between the
    markers), each required to raise TypeError or ValueError."""
    lines = [PRELUDE + setup, "bad = ["]
    lines += [f"    lambda: {c}," for c in calls]
    lines += ["]", "for f in bad:", "    try: f()", "    except (TypeError, ValueError): pass",
              BEGIN.strip(), "for i, f in enumerate(bad):", "    try:", "        f()",
              "    except (TypeError, ValueError):", "        pass", "    else:",
              "        raise SystemExit(f'accepted bad input #{i}')", END.strip()]
    return "\n".join(lines) + "\n"
