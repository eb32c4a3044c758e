"""``insmod`` and ``rmmod``: the kmod tools, as user processes of the simulation.

They run as tasks of the simulated kernel (named ``insmod`` / ``rmmod``, in
``D`` while the module's init or exit blocks), call the simulated
``init_module`` / ``delete_module`` system calls, and print kmod's messages
to their terminal (a callable taking a line of stderr) with kmod's exit codes:
0 on success, 1 on any error (kmod ``tools/insmod.c``, ``tools/rmmod.c``,
``libkmod/libkmod-module.c``).
"""

from __future__ import annotations

from typing import Any, Callable, Final

from ._core._errno import EINVAL, ENOENT, ENOEXEC, ESRCH, EWOULDBLOCK, strerror
from ._core._module import O_NONBLOCK, O_TRUNC, LoadFailed, ModuleImage, module_name_of

Tty = Callable[[str], None]

#: kmod's own texts for errnos of init_module (``mod_strerror`` in tools/insmod.c).
_INSMOD_TEXTS: Final = {
    ENOEXEC: "Invalid module format",
    ENOENT: "Unknown symbol in module",
    ESRCH: "Module has wrong symbol version",
    EINVAL: "Invalid parameters",
}

#: The line of libkmod-module.c that logs a failed delete_module: 856 in Debian 12's
#: kmod 30, as a real run shows (tests/oracle/rmmod_noexit.summary.txt).
_LIBKMOD_REMOVE_LINE: Final = 856


def shell_status(code: int, tty: Tty) -> int:
    """What the shell reports for a tool that exited with *code*: a tool
    killed by its module's oops (SIGKILL, SIGSEGV) is ``Killed`` (137) or
    ``Segmentation fault`` (139); otherwise the tool's own status."""
    if code >= 128 or code in (9, 11):
        tty("Segmentation fault" if code == 11 else "Killed")
        return 139 if code == 11 else 137
    return code


def insmod_error_text(errno: int) -> str:
    """What insmod prints for a positive errno of ``init_module``."""
    return _INSMOD_TEXTS.get(errno) or strerror(errno)


def insmod(kernel: Any, image: ModuleImage, argument: str, params: str, tty: Tty) -> int:
    """``insmod ARGUMENT PARAMS``: load *image*; kmod's exit status."""
    try:
        ret = kernel.sys_init_module(image, params)
    except LoadFailed as exc:
        if exc.tty:
            tty(str(exc))
        ret = -exc.errno
    if ret < 0:
        tty(f"insmod: ERROR: could not insert module {argument}: {insmod_error_text(-ret)}")
        return 1
    return 0


def rmmod(kernel: Any, argument: str, tty: Tty, *, force: bool = False) -> int:
    """``rmmod [-f] NAME`` (or a path to the module file): unload it; kmod's
    exit status.  ``-f`` skips the in-use check and asks the kernel to force
    the removal (``O_TRUNC``)."""
    name = module_name_of(argument)
    mod = kernel.modules.get(name)
    if mod is None:
        tty(f"rmmod: ERROR: Module {name} is not currently loaded")
        return 1
    if mod.refcnt != 0 and not force:  # still in init, or held
        tty(f"rmmod: ERROR: Module {name} is in use")
        return 1
    ret = kernel.sys_delete_module(name, O_NONBLOCK | (O_TRUNC if force else 0))
    if ret < 0:
        err = -ret
        if err == EWOULDBLOCK:
            tty(f"rmmod: ERROR: Module {name} is in use")
            return 1
        text = strerror(err)
        tty(f"rmmod: ERROR: ../libkmod/libkmod-module.c:{_LIBKMOD_REMOVE_LINE} "
            f"kmod_module_remove_module() could not remove '{name}': {text}")
        tty(f"rmmod: ERROR: could not remove module {name}: {text}")
        return 1
    return 0

