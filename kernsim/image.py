"""What ``insmod`` is given: a module file of any kind, ready to load.

``NAME.py`` is compiled (a Python module), ``NAME.ko`` is read as kbuild made
it (a C module), and ``NAME.c`` is built first, as ``kernsim make NAME.c``
would, printing kbuild's lines.
"""

from __future__ import annotations

from typing import Any, Callable

from ._core._module import ModuleBuildError, ModuleImage


def open_image(path: str, *, echo: Callable[[str], None] = lambda line: None,
               insmod: bool = False) -> Any:
    """The image of the module at *path*; raises ModuleBuildError with the
    compiler's (or kbuild's) diagnostics if it cannot be built or read.

    *insmod*: what the real insmod is given -- only a ``.py`` file is
    Python; anything else is read as a kernel object, whatever its name (a
    ``.c`` source, a text file: ``Invalid module format``, as kmod says)."""
    if insmod and not path.endswith(".py"):
        from .cmodule.loader import CModuleImage

        return CModuleImage(path)
    if path.endswith(".c"):
        from . import kbuild

        try:
            result = kbuild.build_file(path, echo=echo)
        except (kbuild.KbuildError, kbuild.BuildError) as exc:
            raise ModuleBuildError(str(exc)) from None
        path = str(result.modules[0])
    if path.endswith(".ko"):
        from .cmodule.loader import CModuleImage

        return CModuleImage(path)
    return ModuleImage.from_file(path)
