"""Shared helpers: run module source in a session, or a function in a bare kernel."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from kernsim._core._kernel import Kernel, KernelConfig
from kernsim._core._printk import format_dmesg_line
from kernsim.session import SessionOptions, SessionResult, run_module

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "examples" / "seed"
#: The project's shared folder (the tutorial, its real-kernel transcripts, the
#: oracle's runs): next to this checkout, or where KERNSIM_SHARED says.
SHARED = Path(os.environ.get("KERNSIM_SHARED") or REPO.parent / "shared")
TRANSCRIPTS = SHARED / "seed" / "transcripts"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Without the real kernel's transcripts a good part of the suite has
    nothing to compare with: say so once, rather than fail test by test."""
    missing = [d for d in (TRANSCRIPTS, SHARED / "oracle" / "seed")
               if not d.is_dir()]
    if missing:
        raise pytest.UsageError(
            f"the tests compare kernsim with real-kernel output in {SHARED} (seed/transcripts "
            f"and oracle/seed), and {missing[0]} is missing: clone kernsim next to the "
            f"project's 'shared' folder, or set KERNSIM_SHARED to that folder")


@dataclass
class Run:
    result: SessionResult
    stderr: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        """The dmesg lines, formatted."""
        return [format_dmesg_line(r) for r in self.result.records]

    @property
    def texts(self) -> list[str]:
        """The message texts only (no timestamps)."""
        return [r.text for r in self.result.records]

    def after(self, text: str) -> list[str]:
        """Texts of the records after the first whose text is *text*."""
        texts = self.texts
        return texts[texts.index(text) + 1:]

    def time_of(self, text: str) -> float:
        for r in self.result.records:
            if r.text == text:
                return r.ts / 1e9
        raise AssertionError(f"{text!r} not in the log:\n" + "\n".join(self.lines))


def run_file(path: str | Path, **options: Any) -> Run:
    """Run a module file through a whole insmod/run/rmmod session."""
    stderr: list[str] = []
    result = run_module(str(path), SessionOptions(**options), stderr=stderr.append)
    return Run(result, stderr)


@pytest.fixture
def run_source(tmp_path: Path) -> Callable[..., Run]:
    """``run_source(source, name="mod", **SessionOptions)``: write a module and run it."""

    def run(source: str, name: str = "mod", **options: Any) -> Run:
        path = tmp_path / f"{name}.py"
        path.write_text("from kernsim.linux import *\n" + textwrap.dedent(source))
        return run_file(path, **options)

    return run


def in_kernel(fn: Callable[[], Any], *, seconds: float = 60.0, **config: Any) -> tuple[Any, Kernel]:
    """Run ``fn()`` as a kthread of a freshly booted kernel (no module);
    return what it returned and the kernel (closed, but its log is readable)."""
    k = Kernel(KernelConfig(**config))
    box: list[Any] = []
    k.spawn_kthread("test", lambda: box.append(fn()) or 0)
    try:
        k.run(k.now + int(seconds * 1e9))
    finally:
        k.close()
    assert box, "the test function did not return"
    return box[0], k
