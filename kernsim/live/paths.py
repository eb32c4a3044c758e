"""Where a live kernel lives: its runtime directory and the files in it.

One kernel per user and name, as a user's ``ssh-agent`` or ``tmux`` server:
``$XDG_RUNTIME_DIR/kernsim/`` (or ``/tmp/kernsim-UID/`` without one), mode
0700, holding for kernel NAME:

- ``NAME.sock``  -- the socket the tools talk to (mode 0600);
- ``NAME.pid``   -- who serves it (JSON: pid, clock, boot time);
- ``NAME.log``   -- the kernel log, written as it grows: what a crashed
  kernel leaves behind (the simulation's pstore/ramoops);
- ``NAME.out``   -- the kernel process's own stderr (kernsim's bugs, if any);
- ``NAME.lock``  -- locked (``flock``) by the kernel process for as long as
  it lives: one kernel per name, however many ``boot``s race;
- ``pstore/``    -- logs of kernels that died, kept for the user.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_NAME: Final = "default"
_NAME_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")


class RuntimeDirError(Exception):
    """The runtime directory cannot be used safely; ``str()`` says why."""


def check_name(name: str) -> str:
    """*name* if it can name a kernel (letters, digits, ``_.-``; 1-32 characters)."""
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"invalid kernel name {name!r}: use 1-32 letters, digits, '_', '.' "
                         f"or '-', not starting with '.' or '-'")
    return name


def runtime_dir() -> Path:
    """The directory of this user's kernels (not created)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "kernsim"
    return Path(f"/tmp/kernsim-{os.getuid()}")


def ensure_private_dir(path: Path) -> Path:
    """Create *path* (mode 0700) or check that it is ours and private."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.lstat()
    except OSError as exc:
        raise RuntimeDirError(f"cannot create {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeDirError(f"{path} is not a directory")
    if st.st_uid != os.getuid():
        raise RuntimeDirError(f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()})")
    if st.st_mode & 0o077:
        raise RuntimeDirError(f"{path} is open to other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                              f"make it private with 'chmod 700 {path}'")
    return path


@dataclass(frozen=True)
class KernelPaths:
    """The files of the kernel called *name*."""

    name: str
    root: Path

    @classmethod
    def of(cls, name: str = DEFAULT_NAME, root: Path | None = None) -> KernelPaths:
        return cls(check_name(name), root if root is not None else runtime_dir())

    @property
    def socket(self) -> Path:
        return self.root / f"{self.name}.sock"

    @property
    def pidfile(self) -> Path:
        return self.root / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    @property
    def lockfile(self) -> Path:
        return self.root / f"{self.name}.lock"

    @property
    def stderr(self) -> Path:
        return self.root / f"{self.name}.out"

    @property
    def pstore(self) -> Path:
        return self.root / "pstore"
