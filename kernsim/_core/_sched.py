"""The scheduler: run queue, scheduling points, context switches, idle.

Design
------
One task runs at a time.  The scheduler code itself runs on the stack of the
task that gives up the CPU (the way ``__schedule`` does): when a task blocks,
it picks the next runnable task and transfers to it directly; if nothing can
run, it advances time to the next event (:meth:`Scheduler.idle`) and fires it.
Only when the kernel must stop -- the caller's time horizon is reached,
nothing can ever happen again, or a stop was requested -- does control go back
to the *host*: the code that called :meth:`Scheduler.run`.  A task whose
function returns also ends on the host, which then dispatches the next one.

Scheduling points
-----------------
On a real SMP kernel another CPU runs while a module executes, so a task can
be overtaken between any two kernel calls.  Every exported kernel function is
bracketed by *points* (see ``_export``): ``now += cost``, then the slow path
:meth:`Scheduler.point_slow` only if an event is due or the policy is eager
and another task is runnable.  There the policy may switch tasks; a switched
task stays runnable (it was preempted, not blocked).

Divergence: one CPU is simulated, interleaved at kernel calls.  Module code
between two kernel calls is atomic (memory-level races inside it are not
explored), and a task that has run for a whole tick while others wait is
preempted round-robin so that a busy loop on "one CPU" does not starve the
tasks the other CPU would run.
"""

from __future__ import annotations

import heapq
import signal
import sys
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Final

from greenlet import GreenletExit, greenlet

from .._interrupt import CtrlC
from ._clock import Clock
from ._current import cur
from ._policy import KIND_NAMES, PICK, PREEMPT, TIMER, DecisionLog, Policy, ReplayMismatch
from ._process import install as install_process_guard
from ._states import (
    EXIT_DEAD,
    TASK_DEAD,
    TASK_INTERRUPTIBLE,
    TASK_NORMAL,
    TASK_RUNNING,
    TASK_WAKEKILL,
)
from ._task import PF_EXITING, TIF_NOTIFY_SIGNAL, TIF_SIGPENDING, GreenletContext, Task, ThreadContext
from ._timer import Timer, wheel_depth, wheel_fire_jiffy

if TYPE_CHECKING:
    pass

NSEC_PER_SEC: Final = 1_000_000_000
INF: Final = float("inf")
SIGKILL: Final = 9

#: What :meth:`Scheduler.run` returns (why the host got control back).
STOP_HORIZON: Final = "horizon"      # the requested time was reached
STOP_IDLE: Final = "idle"            # nothing runnable and no event pending: nothing can ever happen
STOP_REQUESTED: Final = "requested"  # request_stop() was called

_EXITED: Final = object()  # a task's greenlet finished

#: A task that runs this long without sleeping is in a busy loop (point_slow).
SPIN_BOOST_AFTER_NS: Final = 10_000_000
#: The most one kernel call of a busy loop costs.
SPIN_COST_MAX_NS: Final = 1_000_000


def from_outside(kernel: Any, exc: BaseException) -> bool:
    """Does *exc*, caught in a task, come from outside the simulation rather
    than from module code?

    - a KeyboardInterrupt is the user's Ctrl-C when it is a :class:`CtrlC`, or
      while Python's own SIGINT handler is installed (a library user's process):
      a process that handles SIGINT itself (``kernsim run`` with
      :func:`raise_ctrl_c`, the live kernel) never gets a plain one from a signal;
    - a GreenletExit is the kernel being torn down (or its tasks collected)
      only then.

    Raised by module code, either is a fault of that module like any other.
    """
    if isinstance(exc, KeyboardInterrupt):
        return isinstance(exc, CtrlC) or signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if isinstance(exc, GreenletExit):
        return kernel.stop_reason == "dead" or cur.k is not kernel
    return False


class TaskKill(BaseException):
    """Unwinds a task that the simulation kills (e.g. a module stuck in a busy
    loop).  A BaseException, so module code's ``except Exception`` cannot eat it."""


_SIGNAL_TIFS: Final = TIF_SIGPENDING | TIF_NOTIFY_SIGNAL


def signal_pending(p: Task) -> bool:
    """``signal_pending()``: TIF_SIGPENDING or TIF_NOTIFY_SIGNAL (set by kthread_stop)."""
    return bool(p.tif & (TIF_SIGPENDING | TIF_NOTIFY_SIGNAL))


def fatal_signal_pending(p: Task) -> bool:
    """A SIGKILL is pending."""
    return bool(p.tif & TIF_SIGPENDING) and bool(p.signals & (1 << SIGKILL))


def signal_pending_state(state: int, p: Task) -> bool:
    """Would a sleep in *state* be interrupted by what is pending for *p*?"""
    if not state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL):
        return False
    if not p.tif & (TIF_SIGPENDING | TIF_NOTIFY_SIGNAL):
        return False
    return bool(state & TASK_INTERRUPTIBLE) or fatal_signal_pending(p)


class Scheduler:
    """Scheduling, time and timers: the part of ``Kernel`` every call goes through.

    The attributes read on the fast path of every kernel call are plain
    instance attributes of the kernel object: ``now``, ``cost`` and ``due``
    (-1 while an eager policy must be asked at every point).
    """

    #: The fields the hot path reads on every kernel call are slots: fixed
    #: offsets, which the C accelerator (``_fastpath``) reads directly.  (The
    #: other parts of ``Kernel`` keep ordinary attributes.)
    __slots__ = ("now", "cost", "due", "current", "rq", "eager", "base_cost", "slice_ns",
                 "next_event", "horizon", "clock_virtual", "stop_reason", "lockup_thresh_ns",
                 "hz", "initial_jiffies", "in_softirq", "wheel_depth", "heap", "timer_seq",
                 "next_tick", "tick_jiffies", "tick_nsec", "run_thread")

    now: int
    cost: int
    due: Any
    current: Task | None
    rq: deque[Task]
    eager: bool
    hz: int

    def _init_sched(self, *, hz: int, clock: Clock, policy: Policy, cost_ns: int,
                    initial_jiffies: int) -> None:
        #: Simulated time, ns since boot.
        self.now = 0
        #: CPU time one kernel call costs, ns (more in a busy loop, see point_slow).
        self.cost = cost_ns
        self.base_cost = cost_ns
        self.hz = hz
        self.initial_jiffies = initial_jiffies
        self.clock = clock
        #: A virtual clock only moves when the kernel says so: the fast path may
        #: run until the next event.  On the wall clock every point looks at it.
        self.clock_virtual = clock.virtual
        self.policy = policy
        #: Asked at every decision point (only eager policies are).
        self.eager = policy.eager
        self.decisions = DecisionLog()
        #: Set when the policy gave an impossible answer (see decide()).
        self.decision_error: ReplayMismatch | None = None
        self.rq = deque()
        self.current = None
        #: Every live task by pid, in creation order.
        self.tasks: dict[int, Task] = {}
        self.next_pid = 1
        self.slice_ns = -(-NSEC_PER_SEC // hz)
        #: TICK_NSEC, and tick accounting's place: the jiffies charged up to,
        #: and when the next tick comes (see account_ticks).
        self.tick_nsec = (NSEC_PER_SEC + hz // 2) // hz
        self.tick_jiffies = initial_jiffies
        self.next_tick = self.jiffy_time(initial_jiffies + 1)
        self.wheel_depth = wheel_depth(hz)
        self.in_softirq = False
        # The time line: heap of (when_ns, seq, Timer).
        self.heap = []
        self.timer_seq = 0
        self.next_event: Any = INF
        #: Time before which the fast path need not call point_slow().
        self.due: Any = INF if clock.virtual else -1
        self.horizon: int | None = None
        #: Stop instead of letting time pass when nothing can run (a live
        #: virtual-time kernel settles after a command: time moves only on request).
        self.stop_when_idle = False
        self.stop_reason: str | None = None
        self.host = GreenletContext(None, None)
        #: Run this long without sleeping before the soft-lockup check looks (Diagnostics sets it).
        self.lockup_thresh_ns: Any = INF
        self.run_thread = 0

    # -- time -------------------------------------------------------------

    @property
    def jiffies(self) -> int:
        """``jiffies``: INITIAL_JIFFIES at boot, +1 every 1/HZ s."""
        return self.initial_jiffies + self.now * self.hz // NSEC_PER_SEC

    def jiffy_time(self, j: int) -> int:
        """The time (ns since boot) at which ``jiffies`` becomes *j*."""
        return -(-(j - self.initial_jiffies) * NSEC_PER_SEC // self.hz)

    # -- timers -----------------------------------------------------------

    def add_event(self, timer: Timer, when: int) -> None:
        """Put *timer* on the time line at *when* (ns), replacing a pending arming."""
        self.timer_seq = seq = self.timer_seq + 1
        timer.seq = seq
        timer.when = when
        timer.pending = True
        heapq.heappush(self.heap, (when, seq, timer))
        if when < self.next_event:
            self.next_event = when
            if when < self.due and self.clock_virtual:
                self.due = when

    def mod_timer(self, timer: Timer, expires: int) -> None:
        """Arm a wheel timer for jiffy *expires* (``mod_timer``): it fires at the
        bucket expiry the timer wheel computes, never before ``expires + 1``."""
        j = self.initial_jiffies + self.now * self.hz // NSEC_PER_SEC  # self.jiffies, inlined
        base = j + 1 if self.in_softirq else j
        fire = wheel_fire_jiffy(expires, base, self.wheel_depth)
        if fire <= j:
            fire = j + 1
        timer.expires = expires
        self.add_event(timer, -(-(fire - self.initial_jiffies) * NSEC_PER_SEC // self.hz))  # jiffy_time()

    def del_timer(self, timer: Timer) -> int:
        """Deactivate *timer*; 1 if it was pending (``del_timer``)."""
        if timer.pending:
            timer.pending = False
            return 1
        return 0

    def run_due(self) -> None:
        """Fire every event whose time has come, deciding the order of ties."""
        heap = self.heap
        now = self.now
        while heap and heap[0][0] <= now:
            when, seq, timer = heapq.heappop(heap)
            if timer.seq != seq or not timer.pending:
                continue
            if self.eager and heap and heap[0][0] == when:
                group = [timer]
                while heap and heap[0][0] == when:
                    _, seq2, t2 = heapq.heappop(heap)
                    if t2.seq == seq2 and t2.pending:
                        group.append(t2)
                while group:
                    i = self.decide(TIMER, len(group)) if len(group) > 1 else 0
                    t = group.pop(i)
                    if t.pending:
                        self._fire(t)
            else:
                self._fire(timer)
        self.next_event = heap[0][0] if heap else INF

    def _fire(self, timer: Timer) -> None:
        timer.pending = False
        self.in_softirq = True
        try:
            timer.function(timer)
        finally:
            self.in_softirq = False

    # -- decisions --------------------------------------------------------

    def decide(self, kind: int, n: int) -> int:
        """Ask the (eager) policy, and log the answer for replay.  An answer out
        of range (a replay string recorded from another run) stops the kernel:
        the host raises ``decision_error``."""
        choice = self.policy.choose(kind, n)
        if not 0 <= choice < n:
            if self.decision_error is None:
                self.decision_error = ReplayMismatch(
                    f"decision {len(self.decisions)} ({KIND_NAMES[kind]}) has {n} options but "
                    f"the replay string chooses option {choice}: it was recorded from another "
                    f"module, options or kernsim version")
            self.request_stop()
            choice = 0
        self.decisions.append(kind, n, choice, self.now)
        return choice

    # -- the scheduling point ---------------------------------------------

    def point_slow(self) -> None:
        """A scheduling point that needs attention: an event is due, a time
        slice is over, a stop was requested, or the policy wants a say."""
        now = self.now = self.clock.read(self.now)
        if now >= self.next_event:
            self.run_due()
        task = self.current
        if self.horizon is not None and now >= self.horizon and self.stop_reason is None:
            self.stop_reason = STOP_HORIZON  # the caller's time is up, even mid-task
        if self.stop_reason is not None:
            self._stop_running(task)
            return
        if task.spin_start is not None and now >= task.lockup_report_at:
            self.check_soft_lockup(task)
        rq = self.rq
        if rq:
            if now >= task.slice_end:
                self._preempt(task, 0)
                return
            if self.eager:
                choice = self.decide(PREEMPT, len(rq) + 1)
                if choice:
                    self._preempt(task, choice - 1)
                    return
        elif now >= task.slice_end:
            task.slice_end = now + self.slice_ns
        if now >= task.slice_end - self.slice_ns and task.spin_start is not None \
                and now - task.spin_start >= SPIN_BOOST_AFTER_NS and self.clock_virtual:
            # A busy loop: each kernel call costs twice as much every tick, so
            # the watchdogs that report it fire in a fraction of a second.
            self.cost = min(self.cost * 2, SPIN_COST_MAX_NS)
        self._set_due(task)

    def _set_due(self, task: Task) -> None:
        """Set ``due``: the time up to which kernel calls may skip point_slow().
        An eager policy is asked at every point while another task is runnable."""
        if self.eager and self.rq:
            self.due = -1
            return
        due = self.next_event
        if task.slice_end < due:
            due = task.slice_end
        if task.lockup_report_at < due:
            due = task.lockup_report_at
        if self.horizon is not None and self.horizon < due:
            due = self.horizon
        self.due = due if self.clock_virtual else -1

    # -- CPU time -----------------------------------------------------------

    def account_ticks(self, task: Task | None) -> None:
        """``account_process_tick()`` for every tick since the last look: the
        task that had the CPU over them (None: idle) is charged a TICK_NSEC
        each.  Called whenever the CPU changes hands, so one task (or idle)
        held it since the last call; the switch pays a comparison only, as
        the CPU time a task is shown (ps's TIME) is sampled at ticks, as on a
        kernel with tick-based accounting."""
        j = self.jiffies
        if task is not None:
            task.cpu_ns += (j - self.tick_jiffies) * self.tick_nsec
        self.tick_jiffies = j
        self.next_tick = self.jiffy_time(j + 1)

    def unaccounted_cpu_ns(self, task: Task) -> int:
        """The ticks *task* has had since the last look, if it is on the CPU."""
        if self.current is not task:
            return 0
        return (self.jiffies - self.tick_jiffies) * self.tick_nsec

    def check_soft_lockup(self, task: Task) -> None:  # overridden by Diagnostics
        task.lockup_report_at = INF  # type: ignore[assignment]

    def _preempt(self, task: Task, index: int) -> None:
        """Involuntary switch: *task* stays runnable, at the tail of the queue."""
        rq = self.rq
        nxt = rq[index]
        del rq[index]
        rq.append(task)
        task.nivcsw += 1
        if self.now >= self.next_tick:
            self.account_ticks(task)
        self._switch(task, nxt)

    def _switch(self, prev: Task, nxt: Task) -> None:
        self._enter(nxt)
        prev.context.transfer_to(nxt.context)
        if prev.doomed is not None:
            self._resume_doomed(prev)

    def _resume_doomed(self, task: Task) -> None:
        """*task* runs again but the code it was running is gone (its module
        was removed while it slept): it faults as it returns into that code."""
        exc, task.doomed = task.doomed, None
        raise exc  # type: ignore[misc]

    def _enter(self, task: Task) -> None:
        """Make *task* current (about to run).  On every context switch: kept
        flat (``_set_due`` inlined)."""
        self.current = task
        if self.cost != self.base_cost:
            self.cost = self.base_cost  # the end of a busy loop's boost
        now = self.now
        if now >= self.next_tick:
            self.account_ticks(None)  # ticks while the CPU was idle, or given away
        task.slice_end = slice_end = now + self.slice_ns
        if task.spin_start is None:
            task.spin_start = now
            task.lockup_report_at = now + self.lockup_thresh_ns  # refined by check_soft_lockup
        if self.eager and self.rq:
            self.due = -1
            return
        due = self.next_event
        if slice_end < due:
            due = slice_end
        if task.lockup_report_at < due:
            due = task.lockup_report_at
        if self.horizon is not None and self.horizon < due:
            due = self.horizon
        self.due = due if self.clock_virtual else -1

    #: Run every task on an OS thread, as tasks running C code are (tests of
    #: the hand-off between contexts set it; KernelConfig.native_tasks).
    native_tasks: bool = False


    # -- blocking ---------------------------------------------------------

    def schedule_core(self) -> None:
        """``__schedule`` for a voluntary ``schedule()`` call by the current task.

        Not RUNNING: the task blocks until a wake-up, unless a signal is pending
        for its state (then it is set RUNNING and returns at once).  RUNNING:
        returns at once (the points around ``schedule()`` let others run).
        """
        prev = self.current
        if prev.preempt_count:
            self.schedule_bug(prev)
        state = prev.state
        if state == TASK_RUNNING:
            return
        if prev.tif & _SIGNAL_TIFS and signal_pending_state(state, prev):
            prev.state = TASK_RUNNING
            return
        prev.on_rq = False
        prev.nvcsw += 1
        if self.now >= self.next_tick:
            self.account_ticks(prev)
        prev.spin_start = None
        rq = self.rq
        if rq and not self.eager and self.stop_reason is None:
            # The common case of _switch_away(), inlined (the hot path): hand
            # the CPU to the head of the run queue.  *prev* is not on it: a
            # running task is on_rq, so no wake-up queued it again.
            nxt = rq.popleft()
            self._enter(nxt)
            prev.context.transfer_to(nxt.context)
            if prev.doomed is not None:
                self._resume_doomed(prev)
            return
        self._switch_away(prev)

    def schedule_bug(self, prev: Task) -> None:
        """``schedule_debug()``: *prev* sleeps with preemption disabled (it
        holds a spinlock): ``BUG: scheduling while atomic`` (see ``_lockdep``)."""
        from ._lockdep import schedule_bug

        schedule_bug(self, prev, sys._getframe(1))

    def _switch_away(self, prev: Task) -> None:
        """*prev* has blocked: run others (or idle) until *prev* is picked again."""
        while True:
            if self.stop_reason is not None:
                self._to_host(prev)
                return
            rq = self.rq
            if rq:
                if self.eager and len(rq) > 1:
                    i = self.decide(PICK, len(rq))
                    nxt = rq[i]
                    del rq[i]
                else:
                    nxt = rq.popleft()
                if nxt is prev:
                    self._enter(prev)
                    return
                self._enter(nxt)  # _switch(), inlined: this is the hot path
                prev.context.transfer_to(nxt.context)
                if prev.doomed is not None:
                    self._resume_doomed(prev)
                return
            self.idle()

    def _to_host(self, prev: Task) -> None:
        self.current = None
        prev.context.return_to(self.host, None)
        if prev.doomed is not None:
            self._resume_doomed(prev)

    def _stop_running(self, task: Task) -> None:
        """A stop was requested while *task* runs: park it at the head of the
        run queue (it resumes first if the kernel is run again) and return to the host."""
        self.rq.appendleft(task)
        self.current = None
        self.account_ticks(task)
        task.context.return_to(self.host, None)
        if task.doomed is not None:
            self._resume_doomed(task)

    def idle(self) -> bool:
        """Nothing is runnable: advance time to the next event and fire it.

        Returns False (and sets ``stop_reason``) if the kernel must stop instead.
        """
        if self.stop_when_idle:
            self.stop_reason = STOP_IDLE
            return False
        nxt = self.next_event
        if nxt == INF and self.horizon is None:
            self.stop_reason = STOP_IDLE
            return False
        if self.horizon is not None and nxt > self.horizon:
            if self.horizon > self.now:
                self.now = self.clock.wait_until(self.horizon)
            self.stop_reason = STOP_HORIZON
            return False
        now = self.clock.wait_until(nxt)
        if now > self.now:
            self.now = now
        self.run_due()
        return True

    # -- waking -----------------------------------------------------------

    def try_to_wake_up(self, p: Task, mask: int) -> int:
        """Wake *p* if its state matches *mask*: set it RUNNING, queue it; 1 if woken."""
        if not p.state & mask:
            return 0
        p.state = TASK_RUNNING
        if not p.on_rq:
            p.on_rq = True
            self.rq.append(p)
            if self.eager:
                self.due = -1
        return 1

    # -- tasks ------------------------------------------------------------

    def alloc_pid(self) -> int:
        pid = self.next_pid
        self.next_pid = pid + 1
        return pid

    def spawn(self, comm: str, main: Callable[[], int], *, parent: Task | None = None,
              user: bool = False, state: int = TASK_RUNNING, native: bool = False) -> Task:
        """Create a task that will run ``main()`` and exit with its return value.

        With ``state == TASK_RUNNING`` it is queued to run (``wake_up_new_task``).
        *native*: it will run C code, so it gets a stack that never moves (an OS
        thread, ``ThreadContext``) instead of a greenlet.
        """
        task = Task(self.alloc_pid(), comm, user=user)
        task.parent = parent
        task.kaddr = 0xFFFF888000000000 + task.pid * 0x2400
        task.start_time = self.now
        if native or self.native_tasks:
            task.context = ThreadContext(lambda: self._task_main(task, main), self.host)
        else:
            task.context = GreenletContext(lambda: self._task_main(task, main), self.host.glet)
        self.tasks[task.pid] = task
        if state == TASK_RUNNING:
            task.on_rq = True
            self.rq.append(task)
            if self.eager:
                self.due = -1
        else:
            task.state = state
        return task

    def _task_main(self, task: Task, main: Callable[[], int]) -> object:
        """The bottom frame of every task (``ret_from_fork``)."""
        try:
            code = main()
        except (GreenletExit, KeyboardInterrupt) as exc:
            if from_outside(self, exc):
                if isinstance(exc, GreenletExit):
                    return _EXITED  # the kernel is being torn down
                raise  # Ctrl-C: the simulation stops, not the task
            code = self.task_fault(task, exc)  # module code raised it itself
        except TaskKill as exc:
            code = self.task_killed(task, exc)
        except BaseException as exc:  # a fault in module code: the kernel survives it
            code = self.task_fault(task, exc)
        self.do_exit(task, code if isinstance(code, int) else 0)
        return _EXITED

    def task_fault(self, task: Task, exc: BaseException) -> int:  # overridden by Diagnostics
        raise exc

    def task_killed(self, task: Task, exc: TaskKill) -> int:  # overridden by Diagnostics
        return SIGKILL

    def do_exit(self, task: Task, code: int) -> None:
        """The task ends: wake whoever waits for it, free its pid."""
        task.flags |= PF_EXITING
        task.exit_code = code
        if task.held_locks or task.preempt_count:
            from ._lockdep import exit_lock_checks

            exit_lock_checks(self, task, sys._getframe(0))
        self.exit_notify(task)
        if task.on_exit is not None:
            task.on_exit(task)
        task.state = TASK_DEAD
        task.exit_state = EXIT_DEAD
        task.on_rq = False
        self.tasks.pop(task.pid, None)
        task.usage -= 1
        if self.current is task:
            self.account_ticks(task)
            self.current = None

    def exit_notify(self, task: Task) -> None:  # extended by the kthread layer
        pass

    # -- running the kernel -----------------------------------------------

    def run(self, until: int | None = None) -> str:
        """Run tasks and events until time *until* (ns), or until nothing can
        happen any more, or until :meth:`request_stop`.  Returns the reason."""
        self.horizon = until
        self.stop_reason = None
        self.due = -1  # look at the new horizon at the next point
        install_process_guard()
        #: The thread the kernel runs in (module code on the CPU runs there).
        self.run_thread = threading.get_ident()
        here = greenlet.getcurrent()
        if self.host.glet is not here:
            self.host.glet = here
            for task in self.tasks.values():
                if type(task.context) is GreenletContext:
                    glet = task.context.glet
                    if glet.parent is not here and not glet.dead:
                        glet.parent = here
        saved = cur.k
        cur.k = self
        try:
            while self.stop_reason is None:
                rq = self.rq
                if rq:
                    if self.eager and len(rq) > 1:
                        i = self.decide(PICK, len(rq))
                        nxt = rq[i]
                        del rq[i]
                    else:
                        nxt = rq.popleft()
                    self._enter(nxt)
                    self.host.transfer_to(nxt.context)
                else:
                    self.idle()
        finally:
            cur.k = saved
        if self.decision_error is not None:
            raise self.decision_error
        return self.stop_reason

    def request_stop(self) -> None:
        """Make :meth:`run` return at the next scheduling opportunity."""
        if self.stop_reason is None:
            self.stop_reason = STOP_REQUESTED
        self.due = -1

    def teardown(self) -> None:
        """Unwind every task's stack (module ``finally`` blocks run, nothing is
        scheduled any more).  The kernel cannot be run afterwards."""
        self.stop_reason = "dead"
        self.due = -1
        saved = cur.k
        cur.k = self
        try:
            for task in list(self.tasks.values()):
                task.context.kill()
            self.tasks.clear()
            self.rq.clear()
        finally:
            cur.k = saved


__all__ = [
    "Scheduler", "from_outside", "signal_pending", "signal_pending_state", "fatal_signal_pending", "TaskKill",
    "TASK_NORMAL", "STOP_HORIZON", "STOP_IDLE", "STOP_REQUESTED",
]


# -- the scheduler API for modules (include/linux/sched.h) -------------------

from ._export import export, export_values, ksym  # noqa: E402
from ._states import (  # noqa: E402
    EXIT_ZOMBIE,
    TASK_FREEZABLE,
    TASK_FROZEN,
    TASK_IDLE,
    TASK_KILLABLE,
    TASK_NEW,
    TASK_NOLOAD,
    TASK_PARKED,
    TASK_RTLOCK_WAIT,
    TASK_STOPPED,
    TASK_TRACED,
    TASK_UNINTERRUPTIBLE,
    TASK_WAKING,
    __TASK_STOPPED,
    __TASK_TRACED,
)

#: ``LONG_MAX``: sleep with no timeout.
MAX_SCHEDULE_TIMEOUT: Final = (1 << 63) - 1

export_values(__name__, "linux/sched.h", {
    "TASK_RUNNING": TASK_RUNNING, "TASK_INTERRUPTIBLE": TASK_INTERRUPTIBLE,
    "TASK_UNINTERRUPTIBLE": TASK_UNINTERRUPTIBLE, "__TASK_STOPPED": __TASK_STOPPED,
    "__TASK_TRACED": __TASK_TRACED, "EXIT_DEAD": EXIT_DEAD, "EXIT_ZOMBIE": EXIT_ZOMBIE,
    "TASK_PARKED": TASK_PARKED, "TASK_DEAD": TASK_DEAD, "TASK_WAKEKILL": TASK_WAKEKILL,
    "TASK_WAKING": TASK_WAKING, "TASK_NOLOAD": TASK_NOLOAD, "TASK_NEW": TASK_NEW,
    "TASK_RTLOCK_WAIT": TASK_RTLOCK_WAIT, "TASK_FREEZABLE": TASK_FREEZABLE,
    "TASK_FROZEN": TASK_FROZEN, "TASK_KILLABLE": TASK_KILLABLE, "TASK_STOPPED": TASK_STOPPED,
    "TASK_TRACED": TASK_TRACED, "TASK_IDLE": TASK_IDLE, "TASK_NORMAL": TASK_NORMAL,
    "MAX_SCHEDULE_TIMEOUT": MAX_SCHEDULE_TIMEOUT,
})

ksym(Scheduler.schedule_core, "__schedule")
ksym(Scheduler.do_exit, "do_exit")


class _CurrentProxy:
    """``current``: always the task running now (a macro in C, so a live object here).

    Attribute reads go to the running task; pass it to kernel functions as you
    would pass ``current`` in C.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(cur.k.current, name)

    def __eq__(self, other: object) -> bool:
        return cur.k.current is resolve_task(other)

    def __hash__(self) -> int:
        return hash(cur.k.current)

    def __repr__(self) -> str:
        try:
            return f"current={cur.k.current!r}"
        except Exception:
            return "current (no kernel running)"


current: Final = _CurrentProxy()
export_values(__name__, "linux/sched.h", {"current": current})


def resolve_task(p: Any) -> Any:
    """The task a module passed: ``current`` stands for the running task."""
    return cur.k.current if p is current else p


@export("linux/sched.h", points=False,
        c="struct task_struct *get_current(void)")
def get_current() -> Task:
    """The running task (``get_current()``; ``current`` in C)."""
    return cur.k.current


@export("linux/sched.h", kind="macro")
def set_current_state(state_value: int) -> None:
    """Set the running task's state (with a full barrier in C)."""
    cur.k.current.state = state_value


@export("linux/sched.h", kind="macro", name="__set_current_state")
def __set_current_state(state_value: int) -> None:
    """Set the running task's state (no barrier in C; the same here)."""
    cur.k.current.state = state_value


@export("linux/sched.h",
        c="void schedule(void)")
def schedule() -> None:
    """Give up the CPU: block until woken unless the task is RUNNING (or a
    signal is pending for its interruptible state)."""
    cur.k.schedule_core()


@export("linux/sched.h",
        c="int wake_up_process(struct task_struct *p)")
def wake_up_process(p: Task) -> int:
    """Wake *p* if it sleeps in TASK_INTERRUPTIBLE or TASK_UNINTERRUPTIBLE
    (incl. killable, idle, and a kthread that was never started).  Returns 1
    if it was woken, 0 if it was already running or in another state."""
    return cur.k.try_to_wake_up(resolve_task(p), TASK_NORMAL)


@export("linux/sched.h",
        c="int wake_up_state(struct task_struct *p, unsigned int state)")
def wake_up_state(p: Task, state: int) -> int:
    """Wake *p* if its state has a bit of *state*; 1 if woken."""
    return cur.k.try_to_wake_up(resolve_task(p), state)


@export("linux/sched/signal.h", name="signal_pending",
        c="int signal_pending(struct task_struct *p)")
def _signal_pending(p: Task) -> int:
    """Is a signal (or kthread_stop's TIF_NOTIFY_SIGNAL) pending for *p*?"""
    return int(signal_pending(resolve_task(p)))


@export("linux/sched/task.h", points=False,
        c="struct task_struct *get_task_struct(struct task_struct *t)")
def get_task_struct(t: Task) -> Task:
    """Take a reference on *t*: its ``task_struct`` outlives the thread's exit
    until ``put_task_struct()`` (keep one across ``kthread_stop()`` of a
    thread that may return on its own)."""
    t = resolve_task(t)
    t.usage += 1
    return t


@export("linux/sched/task.h", points=False,
        c="void put_task_struct(struct task_struct *t)")
def put_task_struct(t: Task) -> None:
    """Drop a reference taken with ``get_task_struct()``; the last one frees
    the ``task_struct`` of a thread that has exited."""
    t = resolve_task(t)
    if t.usage <= 0:
        # refcount_warn_saturate(): WARN_ONCE, and the count stays saturated
        k = cur.k
        if ("refcount", "underflow") not in k.warned_once:
            k.warned_once.add(("refcount", "underflow"))
            from ._warn import _warn_report

            _warn_report("lib/refcount.c:28", "refcount_t: underflow; use-after-free.", 1)
        return
    t.usage -= 1
