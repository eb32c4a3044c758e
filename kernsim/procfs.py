"""What the simulated kernel shows user space: the facts ``ps``, ``lsmod`` and
``dmesg`` read.

A real ``ps`` reads ``/proc/PID/stat`` and ``/proc/PID/cmdline``, ``lsmod``
reads ``/proc/modules``, ``dmesg`` reads ``/dev/kmsg``.  kernsim's tools read
the same facts as snapshots taken here, between scheduling points, as plain
data: a live kernel (``kernsim.live``) sends them over its socket as JSON and
the tools format them on the client's side, as the real tools format what
they read from procfs.  Every field says which procfs field it stands for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._core._task import Task

# The snapshot types are all a tool needs: the functions that take a
# snapshot import the simulator (kernsim._core) when they are called.

#: Functions ``get_wchan()`` looks through (``in_sched_functions``: the
#: scheduler's own, in ``.sched.text``): a task's wait channel is the first
#: frame of its stack that is not one of these.
SCHED_FUNCTIONS: Final = frozenset({
    "__schedule", "schedule", "schedule_timeout", "schedule_preempt_disabled",
    "io_schedule", "io_schedule_timeout", "schedule_hrtimeout_range",
    "schedule_hrtimeout_range_clock", "usleep_range_state", "__wait_for_common",
    "wait_for_common", "do_wait_for_common", "__mutex_lock", "__mutex_lock_slowpath",
    "rwsem_down_read_slowpath", "rwsem_down_write_slowpath",
})

#: The simulated machine's memory, for ``%MEM`` (``MemTotal`` of /proc/meminfo, kB).
MEM_TOTAL_KB: Final = 2_014_468
#: VSZ and RSS (kB) of a user process of the simulation (kmod's tools are small).
_USER_VSZ_KB: Final = 6_124
_USER_RSS_KB: Final = 1_320

T = TypeVar("T")


def to_json(obj: Any) -> dict[str, Any]:
    """A snapshot as a JSON-able dict."""
    return dataclasses.asdict(obj)


def from_json(cls: type[T], data: Any) -> T:
    """Rebuild a snapshot of type *cls* from :func:`to_json`'s dict; ValueError
    if *data* does not have exactly *cls*'s fields."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected an object, not {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if set(data) != names:
        raise ValueError(f"{cls.__name__}: fields {sorted(data)} are not {sorted(names)}")
    return cls(**data)


@dataclass(frozen=True)
class TaskStat:
    """One task, as ``/proc/PID/stat``, ``/proc/PID/comm`` and ``/proc/PID/cmdline`` show it."""

    pid: int
    #: stat field 4 (0 for init and kthreadd).
    ppid: int
    uid: int
    #: ``task->comm``: at most 15 characters (stat field 2 of a user process).
    comm: str
    #: The name ``ps`` shows: a kthread's full name (``/proc/PID/comm``, up to
    #: 63 characters, as 6.x reports it), else the comm.
    name: str
    #: ``/proc/PID/cmdline`` split at NULs; empty for a kthread.
    cmdline: list[str]
    kthread: bool
    #: The state letter of stat field 3: R S D T t X Z P I.
    state: str
    #: ``task->flags`` (PF_KTHREAD = 0x00200000...), stat field 9.
    flags: int
    nice: int
    #: stat field 18: ``prio - MAX_RT_PRIO``, 20 for nice 0.
    priority: int
    #: stat field 22, in ns since boot.
    start_ns: int
    #: utime + stime, ns: the kernel time the task spent on the CPU.
    cpu_ns: int
    #: ``/proc/PID/wchan``: where it sleeps, or "0" while running.
    wchan: str
    #: Its controlling terminal, e.g. ``pts/0``, or ``?``.
    tty: str
    #: The CPU it last ran on (stat field 39).
    psr: int
    vsz_kb: int
    rss_kb: int


@dataclass(frozen=True)
class ModuleStat:
    """One line of ``/proc/modules`` (and the module's file)."""

    name: str
    size: int
    #: ``module_refcount()``: -1 once an unload has begun.
    refcnt: int
    #: Modules that use it (``source_list``).
    holders: list[str]
    #: ``Live``, ``Loading`` or ``Unloading``.
    state: str
    #: The taint letters with ``+`` (loading) or ``-`` (unloading), e.g. ``OE``.
    taints: str
    address: int
    #: The file it was loaded from (for ``modinfo NAME``).
    path: str


@dataclass(frozen=True)
class KmsgRecord:
    """One ``/dev/kmsg`` record."""

    seq: int
    ts_ns: int
    #: 0 (emerg) .. 7 (debug).
    level: int
    #: 0 kernel, 1 user, ... (``prio = facility * 8 + level``).
    facility: int
    #: The message; lines of a multi-line record are separated by ``\\n``.
    text: str


def wait_channel(kernel: Any, task: Task) -> str:
    """``/proc/PID/wchan``: the first function of a sleeping task's stack that
    is not the scheduler's own, without offset or module; "0" if it runs."""
    if task.state == 0 or task.context is None or not task.context.started:
        return "0"
    try:
        frames = kernel.task_trace(task)
    except Exception:  # a stack that cannot be walked (being torn down)
        return "0"
    for sym in frames:
        name = sym.split("+", 1)[0].split(" ", 1)[0]
        if name not in SCHED_FUNCTIONS:
            return name
    return "0"


def task_stat(kernel: Any, task: Task, tty_names: dict[int, str] | None = None) -> TaskStat:
    """A snapshot of *task*; *tty_names*: the terminal of each user process by pid."""
    kthread = not task.user
    return TaskStat(
        pid=task.pid,
        ppid=task.parent.pid if task.parent is not None else 0,
        uid=0,
        comm=task.comm,
        name=task.full_name if kthread else task.comm,
        cmdline=list(task.cmdline),
        kthread=kthread,
        state=task.state_letter,
        flags=task.flags,
        nice=0,
        priority=20,
        start_ns=task.start_time,
        cpu_ns=task.cpu_ns + kernel.unaccounted_cpu_ns(task),
        wchan=wait_channel(kernel, task),
        tty=(tty_names or {}).get(task.pid, "?"),
        psr=task.cpu,
        vsz_kb=0 if kthread else _USER_VSZ_KB,
        rss_kb=0 if kthread else _USER_RSS_KB,
    )


def task_stats(kernel: Any, tty_names: dict[int, str] | None = None) -> list[TaskStat]:
    """Every task, by pid (what ``ps`` lists from ``/proc``)."""
    return [task_stat(kernel, t, tty_names) for _, t in sorted(kernel.tasks.items())
            if t.alive]


def module_stats(kernel: Any) -> list[ModuleStat]:
    """``/proc/modules``: most recently loaded first."""
    from ._core._diag import taint_flags
    from ._core._module import MODULE_STATE_COMING, MODULE_STATE_GOING

    out = []
    for mod in kernel.modules_newest_first():
        taints = taint_flags(mod.taints)
        refcnt = mod.refcnt
        if mod.state == MODULE_STATE_COMING:
            taints += "+"
        elif mod.state == MODULE_STATE_GOING:
            taints += "-"
            refcnt = -1  # try_stop_module() took the base reference away
        out.append(ModuleStat(name=mod.name, size=mod.size, refcnt=refcnt, holders=[],
                              state=mod.state_name, taints=taints, address=mod.kaddr,
                              path=mod.image.path))
    return out


def kmsg_records(kernel: Any, after_seq: int = -1) -> list[KmsgRecord]:
    """The finalized records with a sequence number above *after_seq*, oldest first."""
    return [KmsgRecord(r.seq, r.ts, r.level, r.facility, r.text)
            for r in kernel.log if r.final and r.seq > after_seq]


def kmsg_record(rec: Any) -> KmsgRecord:
    """A log record (``_printk.Record``) as a snapshot."""
    return KmsgRecord(rec.seq, rec.ts, rec.level, rec.facility, rec.text)
