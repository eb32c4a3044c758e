"""Build and load kernsim's C runtime (``runtime.c`` + generated forwarders).

The runtime is one shared library per process, built once per source version
into the user's cache directory and loaded ``RTLD_GLOBAL``, so that module
objects linked later resolve their kernel symbols (``msleep``, ``_printk``...)
against it.  Its table ``kernsim_ops`` is filled here with cffi callbacks into
the Python implementations (``bridge``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

from cffi import FFI

from .._core._cdecl import c_data, c_functions

HERE: Final = Path(__file__).resolve().parent

#: Fields of kernsim_ops that runtime.c uses besides the generated forwarders:
#: (name, C type of the callback).
EXTRA_OPS: Final = (
    ("vprintk", "int(const char *, struct kernsim_arg *, int)"),
    ("kthread_create_on_node",
     "struct task_struct *(int (*)(void *), void *, int, const char *, struct kernsim_arg *, int)"),
    ("panic", "void(const char *, struct kernsim_arg *, int)"),
    ("hz", "unsigned int(void)"),
    ("jiffies", "unsigned long(void)"),
    ("task_state", "unsigned int(struct task_struct *)"),
    ("set_current_state", "void(unsigned int)"),
    ("init_waitqueue_head", "void(struct wait_queue_head *, const char *, struct lock_class_key *)"),
    ("param_set", "int(const char *, const void *)"),
    ("param_get", "int(char *, const void *)"),
    ("memory_fault", "void(const char *)"),
)

#: The C structures Python reads and writes.  They must match the layout of
#: kernsim/include's (test_cmodule checks offsets against the compiler's).
STRUCTS: Final = """
typedef unsigned long long u64;
typedef unsigned int gfp_t;
struct list_head { struct list_head *next, *prev; };
struct wait_queue_entry { unsigned int flags; void *private; void *func; struct list_head entry; };
struct wait_queue_head { unsigned int lock; struct list_head head; };
struct task_struct { int pid; int tgid; char comm[16]; void *kernsim_task; };
struct lock_class_key { int dummy; };
struct completion { unsigned int done; struct { unsigned int lock; struct list_head task_list; } wait; };
struct spinlock { unsigned int locked; };
typedef struct spinlock spinlock_t;
struct mutex { long owner; struct spinlock wait_lock; struct list_head wait_list; };
struct kernsim_arg { int kind; long long i; const void *p; };
struct kernsim_fault { int sig; int code; unsigned long addr; unsigned long ip; unsigned long err; };
struct kernel_param_ops { unsigned int flags; void *set; void *get; void *free; };
struct kernel_param { const char *name; void *mod; const struct kernel_param_ops *ops;
                      unsigned short perm; signed char level; unsigned char flags; void *arg; };
struct kparam_string { unsigned int maxlen; char *string; };
struct kparam_array { unsigned int max; unsigned int elemsize; unsigned int *num;
                      const struct kernel_param_ops *ops; void *elem; };
struct kernsim_callers { int n; void *pc[8]; void *sp; void *stack_lo; void *stack_hi; };
struct kernsim_memfault { int active; int write; unsigned long addr; unsigned long ip;
                          unsigned long sp_word; struct kernsim_callers chain; };
"""

KERNSIM_ARG_INT: Final = 0
KERNSIM_ARG_UINT: Final = 1
KERNSIM_ARG_STR: Final = 2
KERNSIM_ARG_PTR: Final = 3


def _fn_field(name: str, ctype: str) -> str:
    """``int(const char *)`` + ``vprintk`` -> ``int (*vprintk)(const char *)``."""
    ret, _, args = ctype.partition("(")
    return f"{ret.strip()} (*{name})({args}"


def ops_fields() -> list[tuple[str, str]]:
    """(name, callback C type) of every kernsim_ops member, in order."""
    fields = [(proto.name, _callback_type(proto.ret, [p.ctype for p in proto.params]))
              for _, proto in c_functions()]
    return fields + list(EXTRA_OPS)


def _callback_type(ret: str, params: list[str]) -> str:
    return f"{ret}({', '.join(params) or 'void'})"


def ops_header() -> str:
    lines = ["struct kernsim_ops {"]
    lines += [f"\t{_fn_field(name, ctype)};" for name, ctype in ops_fields()]
    lines.append("};")
    return "\n".join(lines) + "\n"


def forwarders() -> str:
    """One C definition per exported function: call the Python implementation."""
    out = []
    for _, proto in c_functions():
        args = ", ".join(p.name for p in proto.params)
        decl = proto.declaration()
        if proto.ret == "void":
            body = f"\tKERNSIM_ENTER();\n\tkernsim_ops.{proto.name}({args});\n\tKERNSIM_LEAVE();\n"
        else:
            body = (f"\t{proto.ret} r;\n\n\tKERNSIM_ENTER();\n\tr = kernsim_ops.{proto.name}({args});\n"
                    f"\tKERNSIM_LEAVE();\n\treturn r;\n")
        out.append(f"{decl}\n{{\n{body}}}\n")
    return "\n".join(out)


def data_definitions() -> str:
    """The kernel data objects modules link against (``param_ops_int``...),
    each with its object's ``c_initializer``."""
    return "".join(f"{sym.c} = {sym.obj.c_initializer};\n" for sym in c_data())


def cdef() -> str:
    """What cffi must know of the runtime."""
    lines = [STRUCTS, ops_header(), "extern struct kernsim_ops kernsim_ops;"]
    # Not "const": cffi would take a const global for a constant it cannot read.
    lines += [f"extern {(sym.c or '').replace('const ', '', 1)};" for sym in c_data()]
    lines += [
        "void kernsim_request_unwind(void);",
        "extern char kernsim_bit_wait_table[16384];",
        "struct kernsim_callers kernsim_last_caller(void);",
        "unsigned long kernsim_arena_reserve(unsigned long hint, unsigned long size);",
        "void kernsim_arena_release(unsigned long lo, unsigned long size);",
        "int kernsim_mem_protect(unsigned long addr, unsigned long len, int rw);",
        "int kernsim_mem_discard(unsigned long addr, unsigned long len);",
        "int kernsim_take_memfault(struct kernsim_memfault *out);",
        "void kernsim_thread_init(void);",
        "void kernsim_install_fault_handlers(void);",
        "int kernsim_stop_signal(void);",
        "int kernsim_symbolize(unsigned long addr, const char **name, unsigned long *start, const char **file);",
        "int kernsim_call_init(int (*fn)(void), struct kernsim_fault *fault, int *ret);",
        "int kernsim_call_exit(void (*fn)(void), struct kernsim_fault *fault);",
        "int kernsim_call_threadfn(int (*fn)(void *), void *data, struct kernsim_fault *fault, int *ret);",
        "int kernsim_call_wake(int (*fn)(struct wait_queue_entry *, unsigned, int, void *), "
        "struct wait_queue_entry *entry, unsigned mode, int flags, void *key, "
        "struct kernsim_fault *fault, int *ret);",
        "int autoremove_wake_function(struct wait_queue_entry *, unsigned, int, void *);",
        "int default_wake_function(struct wait_queue_entry *, unsigned, int, void *);",
        "int woken_wake_function(struct wait_queue_entry *, unsigned, int, void *);",
    ]
    return "\n".join(lines)


def runtime_source() -> str:
    return (HERE / "runtime.c").read_text() + "\n" + forwarders() + "\n" + data_definitions()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "kernsim"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".probe"
        probe.write_text("")
        probe.unlink()
    except OSError:
        path = Path(tempfile.gettempdir()) / f"kernsim-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


class RuntimeBuildError(RuntimeError):
    """The C runtime could not be compiled (no gcc?)."""


def build_runtime() -> Path:
    """The runtime library for this source, compiled on first use."""
    source = runtime_source()
    ops = ops_header()
    digest = hashlib.sha256((source + ops + sys.version).encode()).hexdigest()[:16]
    out = cache_dir() / f"libkernsim-rt-{digest}.so"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(prefix="kernsim-rt-") as tmp:
        (Path(tmp) / "runtime.c").write_text(source)
        (Path(tmp) / "ops.h").write_text(ops)
        built = Path(tmp) / "rt.so"
        # Frame pointers: the forwarders walk the module's frames from their own.
        cmd = [os.environ.get("CC", "gcc"), "-shared", "-fPIC", "-O2", "-g", "-Wall",
               "-fno-omit-frame-pointer", "-o", str(built), str(Path(tmp) / "runtime.c"),
               "-ldl", "-lpthread"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as exc:
            raise RuntimeBuildError(f"cannot run the C compiler: {exc}") from None
        if r.returncode != 0:
            raise RuntimeBuildError("building kernsim's C runtime failed:\n" + r.stderr)
        tmp_out = out.with_suffix(f".{os.getpid()}.tmp")
        tmp_out.write_bytes(built.read_bytes())
        os.replace(tmp_out, out)
    return out


class Runtime:
    """The loaded runtime: ``ffi`` and ``lib`` (one per process)."""

    def __init__(self) -> None:
        self.ffi = FFI()
        self.ffi.cdef(cdef())
        self.path = build_runtime()
        self.lib: Any = self.ffi.dlopen(str(self.path), self.ffi.RTLD_NOW | self.ffi.RTLD_GLOBAL)
        self.lib.kernsim_install_fault_handlers()


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The process's runtime, loaded on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime
