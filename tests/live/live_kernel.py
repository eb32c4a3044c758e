"""The live-kernel tests' fixture: for each test, a real kernel process and a real socket, in a
runtime directory of the test's own (``XDG_RUNTIME_DIR``)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from kernsim import cli
from kernsim.live.client import pid_alive, read_pidfile
from kernsim.live.paths import KernelPaths

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "seed"


@dataclass
class Result:
    status: int
    out: str
    err: str


class Live:
    """Runs ``kernsim ...`` against kernels whose files live in *root*."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(root), "KERNSIM_NAME": ""}
        self.env.pop("KERNSIM_NAME")

    @property
    def paths(self) -> KernelPaths:
        return KernelPaths.of("default", self.root / "kernsim")

    def __call__(self, *args: str, cwd: Path | None = None) -> Result:
        """``kernsim ARGS``, in this process (the client side is what runs here)."""
        out, err = io.StringIO(), io.StringIO()
        old_env = os.environ.get("XDG_RUNTIME_DIR")
        old_cwd = os.getcwd()
        os.environ["XDG_RUNTIME_DIR"] = str(self.root)
        try:
            if cwd is not None:
                os.chdir(cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = cli.main(list(args))
        finally:
            os.chdir(old_cwd)
            if old_env is None:
                os.environ.pop("XDG_RUNTIME_DIR", None)
            else:
                os.environ["XDG_RUNTIME_DIR"] = old_env
        return Result(status, out.getvalue(), err.getvalue())

    def process(self, *args: str, cwd: Path | None = None, **kw: object) -> subprocess.Popen[str]:
        """``kernsim ARGS`` as a process of its own."""
        return subprocess.Popen([sys.executable, "-m", "kernsim", *args], cwd=cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                **kw)  # type: ignore[call-overload]

    def ok(self, *args: str, cwd: Path | None = None) -> str:
        r = self(*args, cwd=cwd)
        assert r.status == 0, f"kernsim {' '.join(args)}: status {r.status}\n{r.out}{r.err}"
        return r.out

    def kernel_pid(self, name: str = "default") -> int | None:
        info = read_pidfile(KernelPaths.of(name, self.root / "kernsim"))
        return info["pid"] if info else None

    def cleanup(self) -> None:
        for pidfile in (self.root / "kernsim").glob("*.pid"):
            info = read_pidfile(KernelPaths.of(pidfile.stem, pidfile.parent))
            if info and pid_alive(info["pid"]):
                os.kill(info["pid"], signal.SIGKILL)
                reap(info["pid"])


def reap(pid: int, timeout: float = 10.0) -> None:
    """Wait until *pid* has ended (collecting it if it is our child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            if not pid_alive(pid):
                return
        time.sleep(0.01)


@pytest.fixture
def live() -> Iterator[Live]:
    # A short directory: a Unix socket's path must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="ks-"))
    os.chmod(root, 0o700)
    lv = Live(root)
    try:
        yield lv
    finally:
        lv.cleanup()
        shutil.rmtree(root, ignore_errors=True)
