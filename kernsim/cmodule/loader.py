"""Loading a C module (``NAME.ko``) into the simulated kernel.

A ``.ko`` is an ELF relocatable object, as kbuild makes it.  Each load links
it into a shared object of its own (a fresh copy of its data: ``int i = 0``
is 0 again after a reload) and opens it; its undefined kernel symbols
resolve against kernsim's C runtime.  Its ``init_module``/``cleanup_module``
become the module's init and exit, run inside a guard on a task with a real
stack (``ThreadContext``); its ``.modinfo`` is what ``modinfo`` shows.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cffi import FFI
from elftools.elf.elffile import ELFFile

from .._core._current import cur
from .._core._errno import ENOENT
from .._core._module import LoadFailed, Module, ModuleBuildError
from .._core._printk import KERN_ERR, KERN_WARNING
from ..modinfo import KoError, load_ko, modname_of, read_ko
from . import runtime as rt
from .bridge import CFunction, bridge

_load_counter = itertools.count(1)
_OPEN_LIBRARIES: list[tuple[FFI, Any]] = []


class InvalidModuleFormat(LoadFailed):
    """Not a loadable module: insmod says ``Invalid module format`` (ENOEXEC)."""

    tty = False


class UnknownSymbol(LoadFailed):
    """The module uses a kernel symbol kernsim does not provide: the kernel
    logs ``NAME: Unknown symbol SYM (err -2)`` and insmod fails with ENOENT."""

    errno = ENOENT
    tty = False

    def __init__(self, module: str, symbol: str) -> None:
        super().__init__(f"{module}: Unknown symbol {symbol} (err -2)")
        self.symbol = symbol
        cur.k.printk_ln(KERN_WARNING, str(self))


@dataclass
class _Prepared:
    """What loading a .ko needs from files, read (and linked) beforehand."""

    error: KoError | None = None
    info: Any = None
    unknown: list[str] = field(default_factory=list)
    so: Path | None = None
    functions: Any = None
    param_section: tuple[int, int, int] | None = None
    objects: list[tuple[str, int, int]] = field(default_factory=list)


class CModuleImage:
    """A built C module, as insmod reads it from disk."""

    native = True

    def __init__(self, path: str) -> None:
        self._prepared: _Prepared | None = None
        self.path = os.path.abspath(path)
        self.display_path = path
        if not os.path.isfile(path):
            raise ModuleBuildError(f"{path}: No such file or directory")
        try:
            self.name = read_ko(path).name
        except KoError:
            self.name = modname_of(path)  # insmod will refuse it, with kmod's words

    def symbols_used(self) -> list[str]:
        """The module's undefined symbols, in symbol-table order."""
        return _undefined_symbols(self.path)

    def release(self, mod: Module) -> None:
        """The module is freed and none of its code can run any more: unmap it."""
        release(mod)

    def prepare(self) -> None:
        """Do the slow work on files -- reading the ELF object, linking the
        shared object -- ahead of :meth:`load_into`.  A live kernel calls it
        off its own thread, so that an insmod does not stall its clock."""
        self._prepared = self._read_and_link()

    def _read_and_link(self) -> _Prepared:
        try:
            info = load_ko(self.path)
        except KoError as exc:
            return _Prepared(error=exc)
        unknown = _unknown_symbols(self.path)
        if unknown:
            return _Prepared(info=info, unknown=unknown)
        so = _link(self.path, self.name)
        try:
            return _Prepared(info=info, so=so, functions=_elf_functions(str(so)),
                             param_section=_param_section(str(so)), objects=_elf_objects(str(so)))
        except BaseException:
            so.unlink(missing_ok=True)
            raise

    def load_into(self, mod: Module) -> None:
        """Link, open and bind the module's entry points (init_module's work)."""
        prep, self._prepared = self._prepared or self._read_and_link(), None
        if prep.error is not None:
            if prep.error.dmesg:
                cur.k.printk_ln(KERN_ERR, prep.error.dmesg)
            raise InvalidModuleFormat(prep.error.reason) from None
        info = prep.info
        b = bridge()
        if prep.unknown:
            # load_module() reports each after the taint lines, and fails
            mod.modinfo = list(info.fields)
            mod.unresolved = prep.unknown
            return
        so = prep.so
        assert so is not None
        try:
            values, functions = prep.functions
            param_section = prep.param_section
            objects = prep.objects
            mffi = FFI()
            mffi.cdef("int init_module(void); void cleanup_module(void); extern char __this_module;")
            try:
                lib = mffi.dlopen(str(so), mffi.RTLD_NOW | mffi.RTLD_LOCAL)
            except OSError as exc:
                m = re.search(r"undefined symbol: (\w+)", str(exc))
                if m:
                    raise UnknownSymbol(self.name, m.group(1)) from None
                raise InvalidModuleFormat(f"{self.path}: {exc}") from None
        finally:
            so.unlink(missing_ok=True)  # the mapping stays; the file is not needed
        # Closed by release() once the module is freed and none of its
        # threads is left (a kthread a buggy exit left behind may still run
        # its code: then it stays mapped, and the kernel reports the fault).
        _OPEN_LIBRARIES.append((mffi, lib))
        mod.c_library = (mffi, lib)
        init = _entry(mffi, lib, "init_module")
        exit_ = _entry(mffi, lib, "cleanup_module")
        anchor = ("init_module", init) if init else ("cleanup_module", exit_) if exit_ else None
        if anchor is not None and anchor[0] in values:
            base = anchor[1] - values[anchor[0]]
            mod.c_library = (mffi, lib, base)
            b.symbols.extend((base + value, base + value + max(size, 1), name, self.name)
                             for name, value, size in functions)
            b.data_symbols.extend((base + value, base + value + max(size, 1), name, self.name)
                                  for name, value, size in objects)
        mod.modinfo = list(info.fields)
        if param_section is not None:
            # The loader's find_module_sections(): mod->kp is the __param section.
            addr, size, this_module = param_section
            base = int(mffi.cast("uintptr_t", mffi.addressof(lib, "__this_module"))) - this_module
            mod.params = b.params.section(base + addr, size, mod)
        if init:
            mod.init = CFunction(b, b.ffi.cast("int (*)(void)", init), "init", mod)
        if exit_:
            mod.exit = CFunction(b, b.ffi.cast("void (*)(void)", exit_), "exit", mod)


#: What the kernel exports under C library names (lib/string.c, lib/vsprintf.c;
#: linux/string.h and linux/sprintf.h declare them, and gcc may emit calls to
#: the mem* ones for struct copies): the host's implementations serve.  Every
#: other name must be one of kernsim's exports -- printf(), malloc(), exit()
#: or system() are not kernel functions.
KERNEL_LIBC: Final = frozenset({
    "memcpy", "memmove", "memset", "memcmp", "memchr", "strlen", "strnlen", "strcpy",
    "strncpy", "strcat", "strncat", "strcmp", "strncmp", "strcasecmp", "strncasecmp",
    "strchr", "strrchr", "strstr", "strpbrk", "strsep", "strspn", "strcspn", "sprintf",
    "snprintf", "vsprintf", "vsnprintf", "sscanf", "vsscanf",
})


def release(mod: Module) -> None:
    """Unmap a freed module's shared object and forget its symbols, so that a
    kernel that loads and removes modules for days stays the same size."""
    lib_info = getattr(mod, "c_library", None)
    if lib_info is None:
        return
    mod.c_library = None
    mffi, lib = lib_info[0], lib_info[1]
    b = bridge()
    if len(lib_info) > 2:
        base = lib_info[2]
        b.symbols[:] = [s for s in b.symbols if not (s[3] == mod.name and s[0] >= base and
                                                      s[0] - base < 1 << 32)]
        b.data_symbols[:] = [s for s in b.data_symbols if not (s[3] == mod.name and s[0] >= base
                                                                and s[0] - base < 1 << 32)]
    for i, (f, l) in enumerate(_OPEN_LIBRARIES):
        if l is lib:
            del _OPEN_LIBRARIES[i]
            break
    mod.init = mod.exit = None
    mffi.dlclose(lib)


def _undefined_symbols(ko: str) -> list[str]:
    """The module object's undefined global symbols, in symbol-table order
    (less what the linker of kernsim's shared object defines)."""
    out: list[str] = []
    with open(ko, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if symtab is None:
            return out
        for sym in symtab.iter_symbols():
            if (sym["st_shndx"] == "SHN_UNDEF" and sym.name
                    and sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")
                    and sym.name not in _LINKER_SYMBOLS and sym.name not in out):
                out.append(sym.name)
    return out


def _unknown_symbols(ko: str) -> list[str]:
    """The module's undefined symbols that neither the simulated kernel (the C
    runtime's exports) nor the kernel's string library provide, in order."""
    provided = _runtime_symbols()
    return [s for s in _undefined_symbols(ko) if s not in provided and s not in KERNEL_LIBC]


#: Defined by the linker of the shared object kernsim makes of a module (-fPIC).
_LINKER_SYMBOLS: Final = frozenset({"_GLOBAL_OFFSET_TABLE_", "_DYNAMIC", "__dso_handle"})

_PROVIDED: list[frozenset[str]] = []


def _runtime_symbols() -> frozenset[str]:
    """The symbols the C runtime library defines (the kernel's exports, as C sees them)."""
    if not _PROVIDED:
        with open(rt.runtime().path, "rb") as f:
            dynsym = ELFFile(f).get_section_by_name(".dynsym")
            _PROVIDED.append(frozenset(
                s.name for s in dynsym.iter_symbols()
                if s.name and s["st_shndx"] != "SHN_UNDEF"))
    return _PROVIDED[0]


def _entry(mffi: FFI, lib: Any, name: str) -> int:
    try:
        return int(mffi.cast("uintptr_t", getattr(lib, name)))
    except AttributeError:
        return 0


def _link(ko: str, name: str) -> Path:
    """A fresh shared object of the module (its own copy of the module's data)."""
    out_dir = Path(tempfile.gettempdir()) / f"kernsim-{os.getuid()}-modules"
    out_dir.mkdir(parents=True, exist_ok=True)
    so = out_dir / f"{name}-{os.getpid()}-{next(_load_counter)}.so"
    r = subprocess.run([os.environ.get("CC", "gcc"), "-shared", "-o", str(so), ko],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise InvalidModuleFormat(f"{ko}: {r.stderr.strip()}")
    return so


def _param_section(path: str) -> tuple[int, int, int] | None:
    """(address, size) of the ``__param`` section of a linked module and the
    address of ``__this_module`` (to find where the library was mapped), or
    None if it has no parameters."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name("__param")
        symtab = elf.get_section_by_name(".symtab")
        if sec is None or not sec["sh_size"] or symtab is None:
            return None
        this = symtab.get_symbol_by_name("__this_module")
        if not this:
            return None
        return int(sec["sh_addr"]), int(sec["sh_size"]), int(this[0]["st_value"])


def _elf_functions(path: str) -> tuple[dict[str, int], list[tuple[str, int, int]]]:
    """The function symbols of an ELF file: name -> value, and (name, value,
    size) once per address -- an alias (init_module, cleanup_module) loses to
    the module's own name for the function, as the kernel's kallsyms shows it."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        values: dict[str, int] = {}
        by_value: dict[int, tuple[str, int, int]] = {}
        if symtab is None:
            return values, []
        for s in symtab.iter_symbols():
            if s["st_info"]["type"] != "STT_FUNC" or not s["st_value"]:
                continue
            values[s.name] = s["st_value"]
            old = by_value.get(s["st_value"])
            if old is None or old[0] in ("init_module", "cleanup_module"):
                by_value[s["st_value"]] = (s.name, s["st_value"], s["st_size"])
        return values, list(by_value.values())


def _elf_objects(path: str) -> list[tuple[str, int, int]]:
    """The data symbols of an ELF file (``static DEFINE_MUTEX(m)`` is ``m``):
    (name, value, size)."""
    with open(path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if symtab is None:
            return []
        return [(s.name, s["st_value"], s["st_size"]) for s in symtab.iter_symbols()
                if s["st_info"]["type"] == "STT_OBJECT" and s["st_value"] and s.name]
