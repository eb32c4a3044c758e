"""kernsim.procps: procps-ng 4.0.2 ``ps`` over hand-made TaskStat snapshots.

Every expected text is what procps prints for the same /proc facts on a
machine with pid_max 32768 (PID columns 5 wide), stdout not a terminal.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest

from kernsim.procfs import TaskStat
from kernsim.procps import ps

#: 2023-11-14 22:13:20 UTC: the wall clock at boot.
BOOT_WALL_NS = 1_700_000_000 * 10**9
#: Uptime when ps runs: 1 h 3 min 20 s.
NOW_NS = 3_800 * 10**9
PF_KTHREAD = 0x00200000
PF_FORKNOEXEC = 0x00000040
PF_SUPERPRIV = 0x00000100


def kthread(pid: int, name: str, state: str = "S", *, ppid: int = 2,
            wchan: str = "kthread_worker_fn", start_ns: int = 10**9, nice: int = 0,
            cpu_ns: int = 0) -> TaskStat:
    return TaskStat(pid=pid, ppid=ppid, uid=0, comm=name[:15], name=name, cmdline=[],
                    kthread=True, state=state, flags=PF_KTHREAD | PF_FORKNOEXEC,
                    nice=nice, priority=20 + nice, start_ns=start_ns, cpu_ns=cpu_ns,
                    wchan=wchan, tty="?", psr=0, vsz_kb=0, rss_kb=0)


def process(pid: int, comm: str, argv: list[str], state: str = "S", *, ppid: int = 1,
            tty: str = "?", wchan: str = "do_wait", start_ns: int = 5 * 10**8,
            cpu_ns: int = 2_340_000_000) -> TaskStat:
    return TaskStat(pid=pid, ppid=ppid, uid=0, comm=comm, name=comm, cmdline=argv,
                    kthread=False, state=state, flags=PF_SUPERPRIV | 0x00400000, nice=0,
                    priority=20, start_ns=start_ns, cpu_ns=cpu_ns, wchan=wchan, tty=tty,
                    psr=1, vsz_kb=6124, rss_kb=1320)


TUTORIAL_START = 3_700 * 10**9

TASKS = [
    process(1, "init", ["/sbin/init"], ppid=0),
    kthread(2, "kthreadd", ppid=0, wchan="kthreadd"),
    kthread(3, "rcu_gp", "I", wchan="rescuer_thread"),
    kthread(15, "migration/0", "P", wchan="smpboot_thread_fn"),
    kthread(10918, "wait_event wake_thread example", "D", wchan="__wait_for_common",
            start_ns=TUTORIAL_START),
    process(10920, "insmod", ["insmod", "wait_event.ko", "delay=5"], "D", tty="pts/0",
            wchan="0", start_ns=TUTORIAL_START),
]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start times are local time: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def run(*argv: str, tasks: list[TaskStat] = TASKS,
        caller_tty: str = "pts/0") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = ps(list(argv), tasks, now_ns=NOW_NS, boot_wall_ns=BOOT_WALL_NS, hz=250,
                caller_tty=caller_tty, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


USAGE = """
Usage:
 ps [options]

 Try 'ps --help <simple|list|output|threads|misc|all>'
  or 'ps --help <s|l|o|t|m|a>'
 for additional help text.

For more details see ps(1).
"""


def test_deselect_lists_the_kthreads_as_the_tutorial_shows() -> None:
    """The user running ps owns none of the simulated tasks (root's), so the
    default selection is empty and -N lists every task -- the tutorial's
    unprivileged ``ps -N | grep wait_event``."""
    status, out, err = run("-N")
    assert (status, err) == (0, "")
    assert out == (
        "  PID TTY          TIME CMD\n"
        "    1 ?        00:00:02 init\n"
        "    2 ?        00:00:00 kthreadd\n"
        "    3 ?        00:00:00 rcu_gp\n"
        "   15 ?        00:00:00 migration/0\n"
        "10918 ?        00:00:00 wait_event wake_thread example\n"
        "10920 pts/0    00:00:02 insmod\n")


def test_deselect_does_not_depend_on_the_callers_terminal() -> None:
    assert run("-N", caller_tty="?")[1] == run("-N", caller_tty="pts/0")[1]


def test_ax_brackets_kthreads_and_shows_their_states() -> None:
    status, out, _ = run("ax")
    assert status == 0
    assert out == (
        "  PID TTY      STAT   TIME COMMAND\n"
        "    1 ?        Ss     0:02 /sbin/init\n"
        "    2 ?        S      0:00 [kthreadd]\n"
        "    3 ?        I      0:00 [rcu_gp]\n"
        "   15 ?        P      0:00 [migration/0]\n"
        "10918 ?        D      0:00 [wait_event wake_thread example]\n"
        "10920 pts/0    D+     0:02 insmod wait_event.ko delay=5\n")


def test_no_arguments_prints_what_ps_ax_prints() -> None:
    assert run() == run("ax")


def test_aux() -> None:
    lines = run("aux")[1].splitlines()
    assert lines[0] == ("USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME"
                        " COMMAND")
    assert lines[1] == ("root         1  0.0  0.0   6124  1320 ?        Ss   22:13   0:02"
                        " /sbin/init")
    assert lines[5] == ("root     10918  0.0  0.0      0     0 ?        D    23:15   0:00"
                        " [wait_event wake_thread example]")
    assert lines[6] == ("root     10920  2.3  0.0   6124  1320 pts/0    D+   23:15   0:02"
                        " insmod wait_event.ko delay=5")


def test_dash_aux_is_reparsed_as_bsd_options() -> None:
    assert run("-aux") == run("aux")


def test_full_format() -> None:
    assert run("-ef")[1].splitlines()[:3] == [
        "UID        PID  PPID  C STIME TTY          TIME CMD",
        "root         1     0  0 22:13 ?        00:00:02 /sbin/init",
        "root         2     0  0 22:13 ?        00:00:00 [kthreadd]",
    ]


def test_long_format_cuts_wchan_to_its_column() -> None:
    assert run("-el")[1].splitlines()[4:] == [
        "1 P     0    15     2  0  80   0 -     0 smpboo ?        00:00:00 migration/0",
        "1 D     0 10918     2  0  80   0 -     0 wait_f ?        00:00:00"
        " wait_event wake_thread example",
        "4 D     0 10920     1  2  80   0 -  1531 -      pts/0    00:00:02 insmod",
    ]
    assert run("-l")[1].splitlines()[0] == (
        "F S   UID   PID  PPID  C PRI  NI ADDR SZ WCHAN  TTY          TIME CMD")
    assert run("-ely")[1].splitlines()[0] == (
        "S   UID   PID  PPID  C PRI  NI   RSS    SZ WCHAN  TTY          TIME CMD")


def test_user_defined_format() -> None:
    assert run("-e", "-o", "pid,stat,comm")[1] == (
        "  PID STAT COMMAND\n"
        "    1 Ss   init\n"
        "    2 S    kthreadd\n"
        "    3 I    rcu_gp\n"
        "   15 P    migration/0\n"
        "10918 D    wait_event wake_thread example\n"
        "10920 D+   insmod\n")


def test_empty_header_names_print_no_header() -> None:
    assert run("-e", "-o", "pid=")[1] == "    1\n    2\n    3\n   15\n10918\n10920\n"
    assert run("-p", "3", "-o", "pid=", "-o", "comm=")[1] == "    3 rcu_gp\n"


def test_renamed_header_widens_the_column_and_a_middle_command_is_cut() -> None:
    assert run("-p", "10918", "-o", "pid=PROCESS,comm,pid")[1] == (
        "PROCESS COMMAND           PID\n"
        "  10918 wait_event wake 10918\n")


def test_select_by_pid_and_by_command_name() -> None:
    assert run("-p", "1,3")[1] == (
        "  PID TTY          TIME CMD\n"
        "    1 ?        00:00:02 init\n"
        "    3 ?        00:00:00 rcu_gp\n")
    assert run("-C", "kthreadd,insmod")[1] == (
        "  PID TTY          TIME CMD\n"
        "    2 ?        00:00:00 kthreadd\n"
        "10920 pts/0    00:00:02 insmod\n")


def test_nothing_selected_prints_the_header_and_fails() -> None:
    assert run("-p", "4242") == (1, "  PID TTY          TIME CMD\n", "")


def test_bad_option() -> None:
    assert run("-z") == (1, "", "error: unsupported SysV option\n" + USAGE)
    assert run("--frobnicate") == (1, "", "error: unknown gnu long option\n" + USAGE)


def test_bad_format_and_bad_list() -> None:
    assert run("-o", "pid,foo") == (
        1, "", 'error: unknown user-defined format specifier "foo"\n' + USAGE)
    assert run("-p", "1,,2") == (1, "", "error: improper list\n" + USAGE)
    assert run("-u", "nosuchuser") == (1, "", "error: user name does not exist\n" + USAGE)


def test_version_and_help() -> None:
    assert run("-V") == (0, "ps from procps-ng 4.0.2\n", "")
    assert run("--help") == (0, USAGE, "")
    assert run("-V", "-e")[2].startswith("error: the option is exclusive: -V\n")


def test_stat_flags_follow_nice() -> None:
    tasks = [kthread(20, "kworker/0:0H", "I", nice=-20), kthread(21, "ksmd", "S", nice=5)]
    assert run("ax", tasks=tasks)[1] == (
        "  PID TTY      STAT   TIME COMMAND\n"
        "   20 ?        I<     0:00 [kworker/0:0H]\n"
        "   21 ?        SN     0:00 [ksmd]\n")


def test_cpu_time_and_elapsed_time_formats() -> None:
    busy = kthread(30, "spinner", "R", cpu_ns=(86400 + 2 * 3600 + 3 * 60 + 4) * 10**9,
                   start_ns=0)
    # TIME overflows its 8 columns; procps takes the room back from the
    # columns after it (show_one_proc's correct/actual bookkeeping)
    assert run("-p", "30", "-o", "time,bsdtime,etime,etimes", tasks=[busy])[1] == (
        "    TIME   TIME     ELAPSED ELAPSED\n"
        "1-02:03:04 1563:04 01:03:20    3800\n")


def test_start_times() -> None:
    out = io.StringIO()
    # started at boot, two days and an hour ago: dates instead of times
    ps(["-p", "31", "-o", "stime,start,bsdstart,lstart"], [kthread(31, "old", start_ns=0)],
       now_ns=2 * 86400 * 10**9 + NOW_NS, boot_wall_ns=BOOT_WALL_NS, hz=250,
       caller_tty="?", out=out, err=io.StringIO())
    assert out.getvalue() == (
        "STIME  STARTED  START                  STARTED\n"
        "Nov14   Nov 14 Nov 14 Tue Nov 14 22:13:20 2023\n")
    assert run("-p", "1", "-o", "stime,start,bsdstart")[1] == (
        "STIME  STARTED  START\n"
        "22:13 22:13:20  22:13\n")


def test_sort_and_forest() -> None:
    assert [line.split()[0] for line in run("-e", "--sort=-pid")[1].splitlines()[1:]] == [
        "10920", "10918", "15", "3", "2", "1"]
    assert run("axf")[1] == (
        "  PID TTY      STAT   TIME COMMAND\n"
        "    2 ?        S      0:00 [kthreadd]\n"
        "    3 ?        I      0:00  \\_ [rcu_gp]\n"
        "   15 ?        P      0:00  \\_ [migration/0]\n"
        "10918 ?        D      0:00  \\_ [wait_event wake_thread example]\n"
        "    1 ?        Ss     0:02 /sbin/init\n"
        "10920 pts/0    D+     0:02  \\_ insmod wait_event.ko delay=5\n")


def test_no_headers_and_threads() -> None:
    assert run("--no-headers", "-p", "2")[1] == "    2 ?        00:00:00 kthreadd\n"
    assert run("-L", "-p", "2")[1] == (
        "  PID   LWP TTY          TIME CMD\n"
        "    2     2 ?        00:00:00 kthreadd\n")
    assert run("-m", "-p", "2")[1] == (
        "  PID TTY          TIME CMD\n"
        "    2 ?        00:00:00 kthreadd\n"
        "    - -        00:00:00 -\n")
