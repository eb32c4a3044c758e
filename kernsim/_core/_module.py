"""Loadable modules (``kernel/module/main.c``, ``include/linux/module.h``).

A module here is a Python file: its name is the file's stem (``-`` becomes
``_``, as KBUILD_MODNAME does), and every load executes the file afresh in a
new namespace, so a reload starts from fresh globals -- as a C module's
``int i = 0`` is zero again.  Its body declares what a C module declares with
macros: ``MODULE_LICENSE(...)``, ``module_init(fn)``, ``module_exit(fn)``.

Loading follows ``load_module`` / ``do_init_module``: the taint messages the
kernel prints once per boot for an out-of-tree, unsigned (or non-GPL) module,
state COMING ("Loading") while ``init`` runs in the insmod task, LIVE after,
or freed again if ``init`` returns a negative errno.  Unloading follows
``delete_module``: a module with ``init`` but no ``exit`` cannot be removed
(-EBUSY); otherwise it goes to GOING ("Unloading") and ``exit`` runs in the
rmmod task, however long it blocks.
"""

from __future__ import annotations

import builtins
import os
import sys
import types
from types import CodeType
from typing import Any, Callable, Final

from ._current import cur
from ._diag import TAINT_FORCED_RMMOD, TAINT_OOT_MODULE, TAINT_PROPRIETARY_MODULE, TAINT_UNSIGNED_MODULE
from ._errno import EBUSY, EEXIST, ENOENT, ENOEXEC, EWOULDBLOCK
from ._export import export, export_value, ksym
from ._param import parse_module_args
from ._printk import KERN_NOTICE, KERN_WARNING
from ._sched import TaskKill, from_outside
from ._task import PF_SUPERPRIV

MODULE_STATE_LIVE: Final = 0
MODULE_STATE_COMING: Final = 1
MODULE_STATE_GOING: Final = 2
MODULE_STATE_UNFORMED: Final = 3
_STATE_NAMES: Final = {MODULE_STATE_LIVE: "Live", MODULE_STATE_COMING: "Loading",
                       MODULE_STATE_GOING: "Unloading", MODULE_STATE_UNFORMED: "Unformed"}

#: Licenses the kernel treats as GPL-compatible (include/linux/license.h).
GPL_COMPATIBLE: Final = frozenset({
    "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL",
})

O_NONBLOCK: Final = 0o4000
O_TRUNC: Final = 0o1000


class ModuleBuildError(Exception):
    """The module file cannot be built (read or compiled); ``str()`` is the
    compiler-style diagnostic."""


def module_name_of(path: str) -> str:
    """KBUILD_MODNAME of a file: its stem with ``-`` turned into ``_``."""
    stem = os.path.basename(path)
    for suffix in (".py", ".ko", ".c"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return stem.replace("-", "_")


#: ``MODULE_NAME_LEN`` (include/linux/module.h): ``struct module``'s
#: ``char name[64 - sizeof(unsigned long)]``, the NUL included.
MODULE_NAME_LEN: Final = 64 - 8


def check_module_name(path: str, name: str) -> None:
    """Raise ModuleBuildError unless *name*, which a Python module's file
    name gives it, is one a C module could have.

    kbuild takes KBUILD_MODNAME from the file name too, and it is a C
    identifier there (``__KBUILD_MODNAME``), so it holds letters, digits and
    ``_`` (``-`` counts as ``_``); kmod's name of a file stops at its first
    dot.  It must fit ``struct module``'s ``name[MODULE_NAME_LEN]`` with its
    NUL.  Divergence: the kernel itself does not check a name (its C build
    cannot make a bad one); kernsim refuses it before loading, as a build
    error, since a name with a space or a dot would not be one that lsmod,
    rmmod or modinfo could give back."""
    if not name or not all(c == "_" or (c.isascii() and c.isalnum()) for c in name):
        raise ModuleBuildError(f"{path}: error: '{name}' is not a valid module name (the file name "
                               f"gives it: letters, digits, '_' and '-', which is '_')")
    if len(name) >= MODULE_NAME_LEN:
        raise ModuleBuildError(f"{path}: error: module name '{name}' is {len(name)} characters "
                               f"long; the kernel's MODULE_NAME_LEN ({MODULE_NAME_LEN}, with the "
                               f"NUL) allows {MODULE_NAME_LEN - 1}")


class ModuleImage:
    """A built module: what ``insmod`` reads from disk (for Python: compiled code).

    A C module's image (``kernsim.cmodule.loader.CModuleImage``) has the same
    face: ``name``, ``path``, ``display_path``, ``native`` and ``load_into``.
    """

    #: Its code needs tasks with real stacks (C); Python modules run on greenlets.
    native = False

    def __init__(self, path: str, code: CodeType, source: str) -> None:
        self.path = os.path.abspath(path)
        #: The path as the user gave it (for messages: ``kernel BUG at wait_event.py:24!``).
        self.display_path = path
        self.name = module_name_of(path)
        self.code = code
        self.source = source

    @classmethod
    def from_file(cls, path: str) -> ModuleImage:
        """Read and compile a Python module file, or raise ModuleBuildError."""
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except OSError as exc:
            raise ModuleBuildError(f"{path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ModuleBuildError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
        check_module_name(path, module_name_of(path))
        try:
            code = compile(source, os.path.abspath(path), "exec")
        except SyntaxError as exc:
            col = f"{exc.offset}:" if exc.offset else ""
            text = f"\n    {exc.text.rstrip()}" if exc.text else ""
            raise ModuleBuildError(f"{path}:{exc.lineno}:{col} error: {exc.msg}{text}") from None
        except ValueError as exc:
            raise ModuleBuildError(f"{path}: error: {exc}") from None
        return cls(path, code, source)

    def symbols_used(self) -> list[str]:
        """The names its code refers to, first use first (the Python face of a
        module's undefined symbols)."""
        seen: dict[str, None] = {}
        todo = [self.code]
        while todo:
            code = todo.pop(0)
            for name in code.co_names:
                seen.setdefault(name, None)
            todo.extend(c for c in code.co_consts if isinstance(c, CodeType))
        return list(seen)

    def load_into(self, mod: Module) -> None:
        """Run the module body in a fresh namespace: the Python counterpart of
        a C module's static data and macros (MODULE_LICENSE, module_init...),
        which register with *mod*.  Raises what the body raises."""
        name = f"kernsim.modules.{mod.name}"
        body = types.ModuleType(name)
        body.__dict__.update({"__file__": self.path, "__builtins__": builtins})
        mod.namespace = body.__dict__
        # Importable while the body runs: @dataclass looks its module up.
        saved = sys.modules.get(name)
        sys.modules[name] = body
        try:
            exec(self.code, mod.namespace)
        finally:
            if saved is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = saved


class Module:
    """``struct module``: one loaded module."""

    def __init__(self, image: ModuleImage, kaddr: int) -> None:
        self.image = image
        self.name = image.name
        self.state = MODULE_STATE_UNFORMED
        self.init: Callable[[], Any] | None = None
        self.exit: Callable[[], Any] | None = None
        #: ``.modinfo`` tags in declaration order: [("license", "GPL"), ...].
        self.modinfo: list[tuple[str, str]] = []
        self.refcnt = 0
        self.taints = 0
        self.size = 16384
        self.kaddr = kaddr
        #: The module's globals (a fresh namespace per load).
        self.namespace: dict[str, Any] = {}
        #: Its parameters (``__param``: ``_param.KernelParam``), in declaration order.
        self.params: list[Any] = []
        #: The parameter string it was loaded with (``mod->args``).
        self.args = b""
        #: Symbols it uses that the kernel will not resolve for it (filled by
        #: the image; GPL-only ones are added for a non-GPL module at load).
        self.unresolved: list[str] = []
        #: A C module's shared object, while it is mapped (see ``cmodule.loader.release``).
        self.c_library: Any = None

    @property
    def state_name(self) -> str:
        return _STATE_NAMES[self.state]

    @property
    def init_without_exit(self) -> bool:
        """It can be loaded but not unloaded: delete_module() refuses it
        (``mod->init && !mod->exit``: -EBUSY) unless forced."""
        return self.init is not None and self.exit is None

    def get_modinfo(self, tag: str) -> str | None:
        for t, v in self.modinfo:
            if t == tag:
                return v
        return None

    def __repr__(self) -> str:
        return f"<module {self.name} {self.state_name}>"


class LoadFailed(Exception):
    """The module cannot be loaded: ``init_module`` fails with ``errno``.

    ``str()`` is the explanation insmod's user sees (for a Python module whose
    body raised); ``tty`` False when the kernel and kmod say it themselves.
    """

    errno = ENOEXEC
    tty = True


class ModuleLoader:
    """The module list of ``Kernel``, and the init_module/delete_module syscalls."""

    def _init_modules(self) -> None:
        #: Loaded modules, oldest first.
        self.modules: dict[str, Module] = {}
        self.modules_by_path: dict[str, Module] = {}
        #: The module whose body is executing (module_init() & co. register with it).
        self.loading: Module | None = None
        self.last_unloaded = ""
        self._module_base = 0xFFFFFFFFC0A00000
        self._unsigned_notice_printed = False

    def modules_newest_first(self) -> list[Module]:
        return list(reversed(self.modules.values()))

    def module_of_code(self, code: CodeType) -> Module | None:
        """The module whose file *code* comes from (for stack traces)."""
        return self.modules_by_path.get(code.co_filename)

    def module_of(self, fn: Any) -> Module | None:
        mod = getattr(fn, "kernsim_module", None)  # a C function of a module
        if mod is not None:
            return mod  # type: ignore[no-any-return]
        code = getattr(fn, "__code__", None)
        return self.modules_by_path.get(code.co_filename) if code is not None else None

    # -- init_module ----------------------------------------------------------

    def sys_init_module(self, image: ModuleImage, params: str = "") -> int:
        """``init_module(2)``: load *image* and run its init; 0 or -errno.

        Runs in the calling (insmod) task.  *params* is the parameter string.
        If the body raises, :class:`LoadFailed` carries the explanation out
        after the load has been undone (-ENOEXEC for the caller).
        """
        k: Any = self
        may_init_module(k)
        if image.name in self.modules:
            return -EEXIST
        self._module_base += 0x5000
        mod = Module(image, self._module_base)
        self.modules[mod.name] = mod
        self.modules_by_path[image.path] = mod
        self.loading = mod
        try:
            image.load_into(mod)
        except BaseException as exc:
            self._free_module(mod)
            # A body stopped by the watchdog dies as any stuck code does (a
            # soft lockup report); a Ctrl-C or teardown is not the module's.
            if isinstance(exc, (LoadFailed, TaskKill)) or from_outside(k, exc):
                raise
            raise LoadFailed(_describe_body_failure(image, exc)) from None
        finally:
            self.loading = None
        return load_module(k, mod, params)

    def _free_module(self, mod: Module) -> None:
        self.modules.pop(mod.name, None)
        self.modules_by_path.pop(mod.image.path, None)

    # -- delete_module --------------------------------------------------------

    def sys_delete_module(self, name: str, flags: int = O_NONBLOCK) -> int:
        """``delete_module(2)``: run the module's exit and free it; 0 or -errno."""
        k: Any = self
        return delete_module(k, name, flags)


def load_module(k: Any, mod: Module, args: str | bytes = "") -> int:
    """Taint checks and messages, the parameters (``parse_args``), then
    ``do_init_module``."""
    if mod.get_modinfo("intree") is None:
        if not k.test_taint(TAINT_OOT_MODULE):
            k.printk_ln(KERN_WARNING, f"{mod.name}: loading out-of-tree module taints kernel.")
        k.add_taint(TAINT_OOT_MODULE)
        mod.taints |= 1 << TAINT_OOT_MODULE
    license = mod.get_modinfo("license") or "unspecified"
    if license not in GPL_COMPATIBLE:
        if not k.test_taint(TAINT_PROPRIETARY_MODULE):
            k.printk_ln(KERN_WARNING, f"{mod.name}: module license '{license}' taints kernel.")
            k.printk_ln(KERN_WARNING, "Disabling lock debugging due to kernel taint")
        k.add_taint(TAINT_PROPRIETARY_MODULE)
        mod.taints |= 1 << TAINT_PROPRIETARY_MODULE
    if not k._unsigned_notice_printed:
        k._unsigned_notice_printed = True
        k.printk_ln(KERN_NOTICE, f"{mod.name}: module verification failed: signature and/or "
                                 f"required key missing - tainting kernel")
    k.add_taint(TAINT_UNSIGNED_MODULE)
    mod.taints |= 1 << TAINT_UNSIGNED_MODULE
    # simplify_symbols(): every symbol the module uses must resolve -- a
    # GPL-only export only for a module with a GPL-compatible license.
    missing = _unresolved_symbols(mod)
    if missing:
        for sym in missing:
            k.printk_ln(KERN_WARNING, f"{mod.name}: Unknown symbol {sym} (err -2)")
        k._free_module(mod)
        return -ENOENT
    mod.state = MODULE_STATE_COMING
    mod.refcnt = 1
    # Module is ready to execute: parsing args may do that.
    err = parse_module_args(mod, args)
    if err < 0:
        mod.state = MODULE_STATE_GOING
        k._free_module(mod)
        return err
    return do_init_module(k, mod)


def _unresolved_symbols(mod: Module) -> list[str]:
    """What the module uses that will not resolve: what its image found no
    export for, and -- unless its license is GPL-compatible -- the GPL-only
    exports it names (a C module's undefined symbols, a Python module's names)."""
    from ._export import EXPORTS

    missing = list(mod.unresolved)
    license = mod.get_modinfo("license") or "unspecified"
    if license not in GPL_COMPATIBLE:
        for name in mod.image.symbols_used():
            sym = EXPORTS.get(name)
            if sym is not None and sym.gpl and name not in missing:
                missing.append(name)
    return missing


def do_init_module(k: Any, mod: Module) -> int:
    ret = 0
    if mod.init is not None:
        ret = do_one_initcall(mod.init)
    if ret < 0:
        mod.state = MODULE_STATE_GOING
        k._free_module(mod)
        k.module_freed(mod, "its init failed without stopping it")  # they fault when they next run
        return ret
    if ret > 0:
        k.printk_ln(KERN_WARNING,
                    f"do_init_module: '{mod.name}'->init suspiciously returned {ret}, it should "
                    f"follow 0/-E convention\ndo_init_module: loading module anyway...")
        k.dump_stack()
    mod.state = MODULE_STATE_LIVE
    mod.refcnt = 0
    return 0


def do_one_initcall(fn: Callable[[], Any]) -> int:
    ret = fn()
    if ret is None:
        return 0  # a Python init without "return 0"
    if isinstance(ret, bool) or not isinstance(ret, int):
        raise TypeError(f"module init function returned {ret!r}: it must return 0 or a negative errno")
    return ret


def may_init_module(k: Any) -> None:
    """``capable(CAP_SYS_MODULE)``, the first check of init_module(2) and
    delete_module(2) (kernel/module/main.c).  Every kernsim caller is root, so
    it succeeds, and ns_capable_common() (kernel/capability.c) marks the
    caller as having used superuser privileges: PF_SUPERPRIV, ps's F 4."""
    task = k.current
    if task is not None:
        task.flags |= PF_SUPERPRIV


def delete_module(k: Any, name: str, flags: int) -> int:
    may_init_module(k)
    mod = k.modules.get(name)
    if mod is None:
        return -ENOENT
    if mod.state != MODULE_STATE_LIVE:
        return -EBUSY
    if mod.init_without_exit and not try_force_unload(k, flags):
        return -EBUSY
    if mod.refcnt != 0 and not try_force_unload(k, flags):
        return -EWOULDBLOCK
    mod.state = MODULE_STATE_GOING
    if mod.exit is not None:
        mod.exit()
    k.last_unloaded = mod.name
    k._free_module(mod)
    k.module_freed(mod)
    return 0


def try_force_unload(k: Any, flags: int) -> bool:
    """``rmmod -f`` (O_TRUNC), with CONFIG_MODULE_FORCE_UNLOAD (Debian has it):
    remove the module anyway, tainting the kernel ``R``."""
    if not flags & O_TRUNC:
        return False
    from ._lockdep import debug_locks_off

    k.add_taint(TAINT_FORCED_RMMOD)
    if debug_locks_off(k):  # add_taint(TAINT_FORCED_RMMOD, LOCKDEP_NOW_UNRELIABLE)
        k.printk_ln(KERN_WARNING, "Disabling lock debugging due to kernel taint")
    return True


ksym(do_one_initcall)
ksym(do_init_module)
ksym(load_module)
ksym(delete_module, "__do_sys_delete_module")
ksym(ModuleLoader.sys_init_module, "__do_sys_init_module")


def _describe_body_failure(image: ModuleImage, exc: BaseException) -> str:
    tb = exc.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == image.path:
            line = tb.tb_lineno
        tb = tb.tb_next
    where = f"{image.display_path}:{line}" if line else image.display_path
    text = str(exc)
    return f"{where}: error while loading: {type(exc).__name__}{': ' + text if text else ''}"


# -- the module API -------------------------------------------------------------

def _loading(macro: str) -> Module:
    mod = cur.k.loading
    if mod is None:
        raise RuntimeError(f"{macro}() belongs at the top level of a module file "
                           f"(it is a declaration, evaluated when the module is loaded)")
    return mod


@export("linux/module.h", kind="macro", points=False)
def module_init(initfn: Callable[[], int]) -> Callable[[], int]:
    """Declare the function insmod runs: ``module_init(my_init)`` or ``@module_init``."""
    if not callable(initfn):
        raise TypeError(f"module_init() needs a function, not {initfn!r}")
    _loading("module_init").init = initfn
    return initfn


@export("linux/module.h", kind="macro", points=False)
def module_exit(exitfn: Callable[[], None]) -> Callable[[], None]:
    """Declare the function rmmod runs: ``module_exit(my_exit)`` or ``@module_exit``."""
    if not callable(exitfn):
        raise TypeError(f"module_exit() needs a function, not {exitfn!r}")
    _loading("module_exit").exit = exitfn
    return exitfn


@export("linux/module.h", kind="macro", points=False)
def MODULE_INFO(tag: str, info: str) -> None:
    """Add ``tag=info`` to the module's .modinfo."""
    _loading("MODULE_INFO").modinfo.append((str(tag), str(info)))


def _info_macro(name: str, tag: str) -> Callable[[str], None]:
    def macro(value: str) -> None:
        _loading(name).modinfo.append((tag, str(value)))

    macro.__name__ = macro.__qualname__ = name
    macro.__doc__ = f"Add ``{tag}=...`` to the module's .modinfo (shown by modinfo)."
    return export("linux/module.h", kind="macro", points=False)(macro)


MODULE_LICENSE = _info_macro("MODULE_LICENSE", "license")
MODULE_AUTHOR = _info_macro("MODULE_AUTHOR", "author")
MODULE_DESCRIPTION = _info_macro("MODULE_DESCRIPTION", "description")
MODULE_VERSION = _info_macro("MODULE_VERSION", "version")
MODULE_ALIAS = _info_macro("MODULE_ALIAS", "alias")


def _modname() -> Any:
    k = cur.k
    if not k:
        return None
    mod = k.loading
    return mod.name if mod is not None else None


export_value("KBUILD_MODNAME", _modname, "linux/module.h", kind="var")
export_value("THIS_MODULE", lambda: cur.k.loading if cur.k else None, "linux/module.h", kind="var")
