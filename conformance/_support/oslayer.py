"""Collect an OS layer's test folder on other OSes as one platform skip per file.

The test files of ``conformance/linux/`` import ``vllsi.linux`` at module level,
and those of ``conformance/windows/`` import ``vllsi.windows``; neither package
exists on another OS (its import raises ModuleNotFoundError). A folder's
``conftest.py`` sets ``pytest_pycollect_makemodule = only_on_os("linux")``: on
another OS each test file is then collected as a single item skipped with
reason ``platform``, so the matrix shows the module as n/a there instead of a
collection error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vllsi import _platform


class _NotHere(pytest.Item):
    def setup(self) -> None:
        pytest.skip(str(self.config.stash.get(_REASON, "platform: not this OS")))

    def runtest(self) -> None:  # pragma: no cover - always skipped in setup
        raise AssertionError("unreachable")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name


_REASON: pytest.StashKey[str] = pytest.StashKey()


class _OtherOsFile(pytest.File):
    os_name = ""

    def collect(self) -> Iterator[pytest.Item]:
        self.config.stash[_REASON] = (
            f"platform: {self.os_name}-only test file (vllsi.{self.os_name} does not exist "
            f"on {_platform.OS})"
        )
        yield _NotHere.from_parent(self, name=f"{self.os_name}_only")


def only_on_os(os_name: str) -> Callable[..., Any]:
    """A ``pytest_pycollect_makemodule`` hook for a conftest of an OS-layer folder."""

    def pytest_pycollect_makemodule(module_path: Path, parent: Any) -> Any:
        if os_name == _platform.OS:
            return None
        f = _OtherOsFile.from_parent(parent, path=module_path)
        f.os_name = os_name
        return f

    return pytest_pycollect_makemodule
