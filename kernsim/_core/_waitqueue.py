"""Wait queues (``include/linux/wait.h``, ``kernel/sched/wait.c``).

The structures are the kernel's, literally: a head with a list of entries, an
entry with ``flags``, ``private`` (usually the task) and ``func`` (its wake
function), linked through ``next``/``prev`` as a ``list_head`` is.  An entry
is queued iff its link does not point to itself; :func:`remove_wait_queue`
leaves it *poisoned* (``list_del``), as the kernel does, and re-using such an
entry without re-initialising it is reported as the list corruption it is.

The wake-up walk (:func:`__wake_up_common`) is the kernel's: head to tail,
``flags`` read before calling ``func``, a negative return stops the walk, and
``nr_exclusive`` counts only successful wakes of EXCLUSIVE entries.  Since
``add_wait_queue`` inserts at the head and exclusive entries at the tail,
non-exclusive waiters are woken newest first and exclusive ones oldest first.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Final

from ._bug import KernelBug, NullPointerDereference
from ._current import cur
from ._export import export, export_values
from ._sched import _SIGNAL_TIFS, current, resolve_task, signal_pending_state
from ._states import TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_RUNNING
from ._time import _schedule_timeout

WQ_FLAG_EXCLUSIVE: Final = 0x01
WQ_FLAG_WOKEN: Final = 0x02
WQ_FLAG_CUSTOM: Final = 0x04
WQ_FLAG_DONE: Final = 0x08
WQ_FLAG_PRIORITY: Final = 0x10

export_values(__name__, "linux/wait.h", {
    "WQ_FLAG_EXCLUSIVE": WQ_FLAG_EXCLUSIVE, "WQ_FLAG_WOKEN": WQ_FLAG_WOKEN,
    "WQ_FLAG_CUSTOM": WQ_FLAG_CUSTOM, "WQ_FLAG_DONE": WQ_FLAG_DONE,
    "WQ_FLAG_PRIORITY": WQ_FLAG_PRIORITY,
})


class _Poison:
    """``LIST_POISON1``: what ``list_del`` leaves in an entry's link."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LIST_POISON1"


LIST_POISON: Final = _Poison()

WakeFunc = Callable[["wait_queue_entry", int, int, Any], int]


class list_head:
    """The sentinel of a wait queue's list."""

    __slots__ = ("next", "prev")

    def __init__(self) -> None:
        self.next: Any = self
        self.prev: Any = self


class wait_queue_head:
    """``struct wait_queue_head`` (``wait_queue_head_t``): a lock and a list of entries."""

    __slots__ = ("head", "name", "__weakref__")

    def __init__(self, name: str = "") -> None:
        self.head = list_head()
        self.name = name

    def entries(self) -> list[wait_queue_entry]:
        """The queued entries, head to tail (for inspection and tests)."""
        out = []
        node = self.head.next
        while node is not self.head:
            out.append(node)
            node = node.next
        return out

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        return f"<wait_queue_head{name} waiters:{len(self.entries())}>"


class wait_queue_entry:
    """``struct wait_queue_entry``: ``flags``, ``private`` (the task), ``func``."""

    __slots__ = ("flags", "private", "func", "next", "prev", "name", "owner", "__weakref__")

    def __init__(self, func: WakeFunc | None = None, private: Any = None, flags: int = 0,
                 name: str = "") -> None:
        self.flags = flags
        self.private = private
        self.func = func
        #: None: never initialised (DECLARE_WAITQUEUE); self: not queued.
        self.next: Any = None
        self.prev: Any = None
        self.name = name
        #: For an entry a module declared (DEFINE_WAIT...): (task, frame) of the
        #: function whose stack holds it in C.  Once that function has returned,
        #: the entry is memory about to be reused: finding it queued is list
        #: corruption (see stale_entry_bug()).
        self.owner: tuple[Any, Any] | None = None

    def is_stale(self) -> bool:
        """Declared by a module function that has returned (see check_stale())."""
        return self.owner is not None and not _alive(self.owner)

    @property
    def queued(self) -> bool:
        """On a wait queue (its link is neither empty, uninitialised nor poisoned)."""
        n = self.next
        return n is not self and n is not None and n is not LIST_POISON

    def __repr__(self) -> str:
        fn = getattr(self.func, "__name__", self.func)
        link = "queued" if self.queued else ("poisoned" if self.next is LIST_POISON else "unqueued")
        task = getattr(self.private, "pid", self.private)
        return f"<wait_queue_entry {self.name} flags={self.flags:#x} private={task} func={fn} {link}>"


wait_queue_head_t = wait_queue_head
export_values(__name__, "linux/wait.h", {
    "wait_queue_head": wait_queue_head, "wait_queue_head_t": wait_queue_head,
    "wait_queue_entry": wait_queue_entry, "wait_queue_entry_t": wait_queue_entry,
}, kind="type")


# -- list primitives (include/linux/list.h) ----------------------------------

def _check_head(wq_head: Any) -> None:
    if wq_head is None:
        raise NullPointerDereference("wait queue head")


def _list_add(entry: wait_queue_entry, prev: Any, nxt: Any) -> None:
    nxt.prev = entry
    entry.next = nxt
    entry.prev = prev
    prev.next = entry


def _list_del_init(entry: wait_queue_entry) -> None:
    entry.prev.next = entry.next
    entry.next.prev = entry.prev
    entry.next = entry
    entry.prev = entry


def _list_empty(entry: wait_queue_entry) -> bool:
    """``list_empty(&entry->entry)``, with CONFIG_DEBUG_LIST's checks."""
    n = entry.next
    if n is entry:
        return True
    if n is LIST_POISON:
        raise KernelBug(
            "list_add corruption. next is LIST_POISON1 (dead000000000100). "
            "(a wait entry removed with remove_wait_queue() was queued again "
            "without init_wait()/init_waitqueue_entry())"
        )
    if n is None:
        raise KernelBug(
            "list_add corruption. next is NULL. (a wait entry declared with "
            "DECLARE_WAITQUEUE was passed to prepare_to_wait*() instead of add_wait_queue())"
        )
    return False


def _owned_here(entry: wait_queue_entry, depth: int) -> None:
    """Record the module function *depth* frames up as the owner of *entry*."""
    entry.owner = (cur.k.current, sys._getframe(depth + 1))


def _alive(owner: tuple[Any, Any]) -> bool:
    """Is the owner's frame still running (on its task's stack)?"""
    task, frame = owner
    if task is None or task.exit_state:
        return False
    k = cur.k
    f = sys._getframe(1) if task is k.current else task.context.frame()
    while f is not None:
        if f is frame:
            return True
        f = f.f_back
    return False


def check_stale(entry: Any) -> None:
    """CONFIG_DEBUG_LIST meets an entry whose declaring function returned while
    it was still queued (no finish_wait()/remove_wait_queue()): its memory is
    someone else's stack now."""
    is_stale = getattr(entry, "is_stale", None)
    if is_stale is None or not is_stale():
        return
    addr = getattr(entry, "report_address", None)
    if addr is None:  # a Python entry: a made-up stack address of its task
        task = entry.owner[0]
        addr = 0xFFFFC90000000000 + (task.pid if task is not None else 0) * 0x4000 + 0x3E48
    raise KernelBug(
        f"list_del corruption. prev->next should be {addr:016x}, but was "
        f"6b6b6b6b6b6b6b6b. (prev={addr - 0x40:016x}) (a wait entry was left queued "
        f"when the function that declared it returned without finish_wait() or "
        f"remove_wait_queue(): its stack has been reused)")


def _needs_check(node: Any) -> bool:
    """Could *node* be a stale stack entry (a module's own, or a C one)?"""
    return type(node) is not wait_queue_entry or node.owner is not None


def _check_del(entry: wait_queue_entry) -> None:
    """``__list_del_entry_valid()`` (CONFIG_DEBUG_LIST): unlinking an entry
    whose link is poisoned (removed with remove_wait_queue()) or NULL (a
    DECLARE_WAITQUEUE entry never queued) is list corruption -- without the
    debug checks the kernel faults on the poison / NULL pointer instead."""
    if entry.next is LIST_POISON:
        raise KernelBug("list_del corruption, wait entry->next is LIST_POISON1 (dead000000000100)")
    if entry.next is None:
        raise KernelBug("list_del corruption, wait entry->next is NULL")


def _check_neighbours(head: Any) -> None:
    """list_add()'s CONFIG_DEBUG_LIST check of the entries a new one goes between."""
    for node in (head.next, head.prev):
        if node is not head and _needs_check(node):
            check_stale(node)


def __add_wait_queue(wq_head: wait_queue_head, wq_entry: wait_queue_entry) -> None:
    """Insert at the head, behind any PRIORITY entries."""
    _check_neighbours(wq_head.head)
    head: Any = wq_head.head
    node = head.next
    while node is not wq_head.head and node.flags & WQ_FLAG_PRIORITY:
        head = node
        node = node.next
    _list_add(wq_entry, head, head.next)


def __add_wait_queue_entry_tail(wq_head: wait_queue_head, wq_entry: wait_queue_entry) -> None:
    """Insert at the tail."""
    head = wq_head.head
    _check_neighbours(head)
    _list_add(wq_entry, head.prev, head)


# -- declaration and initialisation ------------------------------------------

@export("linux/wait.h", kind="macro", points=False)
def DECLARE_WAIT_QUEUE_HEAD(name: str = "") -> wait_queue_head:
    """A new, empty wait queue head: ``wq = DECLARE_WAIT_QUEUE_HEAD()``."""
    return wait_queue_head(name)


@export("linux/wait.h", kind="macro", points=False)
def DECLARE_WAIT_QUEUE_HEAD_ONSTACK(name: str = "") -> wait_queue_head:
    """As DECLARE_WAIT_QUEUE_HEAD (the on-stack variant differs only for lockdep)."""
    return wait_queue_head(name)


@export("linux/wait.h", kind="macro", points=False)
def init_waitqueue_head(wq_head: wait_queue_head) -> None:
    """Make *wq_head* an empty queue."""
    _check_head(wq_head)
    wq_head.head.next = wq_head.head.prev = wq_head.head


@export("linux/wait.h", kind="macro", points=False)
def DECLARE_WAITQUEUE(tsk: Any, name: str = "") -> wait_queue_entry:
    """An entry for *tsk* with ``default_wake_function`` (not auto-removing);
    its link is not initialised: use it with add_wait_queue()."""
    e = wait_queue_entry(default_wake_function, resolve_task(tsk), 0, name)
    _owned_here(e, 1)
    return e


@export("linux/wait.h", kind="macro", points=False)
def DEFINE_WAIT_FUNC(function: WakeFunc, name: str = "") -> wait_queue_entry:
    """An unqueued entry for ``current`` with wake function *function*."""
    e = wait_queue_entry(function, cur.k.current, 0, name)
    e.next = e.prev = e
    _owned_here(e, 1)
    return e


@export("linux/wait.h", kind="macro", points=False)
def DEFINE_WAIT(name: str = "") -> wait_queue_entry:
    """An unqueued entry for ``current`` that removes itself when woken
    (``autoremove_wake_function``): ``wait = DEFINE_WAIT()``."""
    e = wait_queue_entry(autoremove_wake_function, cur.k.current, 0, name)
    e.next = e.prev = e
    _owned_here(e, 1)
    return e


@export("linux/wait.h", kind="macro", points=False)
def init_wait(wq_entry: wait_queue_entry) -> None:
    """(Re)initialise *wq_entry* as DEFINE_WAIT does."""
    init_wait_entry(wq_entry, 0)


@export("linux/wait.h", points=False,
        c="void init_wait_entry(struct wait_queue_entry *wq_entry, int flags)")
def init_wait_entry(wq_entry: wait_queue_entry, flags: int) -> None:
    """flags := *flags*, private := current, func := autoremove, link := unqueued."""
    wq_entry.flags = flags
    wq_entry.private = cur.k.current
    wq_entry.func = autoremove_wake_function
    wq_entry.next = wq_entry.prev = wq_entry


@export("linux/wait.h", kind="macro", points=False)
def init_waitqueue_entry(wq_entry: wait_queue_entry, p: Any) -> None:
    """flags := 0, private := *p*, func := default_wake_function (link untouched)."""
    wq_entry.flags = 0
    wq_entry.private = resolve_task(p)
    wq_entry.func = default_wake_function


@export("linux/wait.h", kind="macro", points=False)
def init_waitqueue_func_entry(wq_entry: wait_queue_entry, func: WakeFunc) -> None:
    """flags := 0, private := NULL, func := *func*."""
    wq_entry.flags = 0
    wq_entry.private = None
    wq_entry.func = func


# -- queue manipulation ---------------------------------------------------------

@export("linux/wait.h",
        c="void add_wait_queue(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry)")
def add_wait_queue(wq_head: wait_queue_head, wq_entry: wait_queue_entry) -> None:
    """Queue a non-exclusive entry at the head (unconditionally)."""
    _check_head(wq_head)
    wq_entry.flags &= ~WQ_FLAG_EXCLUSIVE
    __add_wait_queue(wq_head, wq_entry)


@export("linux/wait.h",
        c="void add_wait_queue_exclusive(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry)")
def add_wait_queue_exclusive(wq_head: wait_queue_head, wq_entry: wait_queue_entry) -> None:
    """Queue an exclusive entry at the tail (unconditionally)."""
    _check_head(wq_head)
    wq_entry.flags |= WQ_FLAG_EXCLUSIVE
    __add_wait_queue_entry_tail(wq_head, wq_entry)


@export("linux/wait.h", gpl=True,
        c="void add_wait_queue_priority(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry)")
def add_wait_queue_priority(wq_head: wait_queue_head, wq_entry: wait_queue_entry) -> None:
    """Queue an exclusive priority entry at the head, in front of normal waiters."""
    _check_head(wq_head)
    wq_entry.flags |= WQ_FLAG_EXCLUSIVE | WQ_FLAG_PRIORITY
    __add_wait_queue(wq_head, wq_entry)


@export("linux/wait.h",
        c="void remove_wait_queue(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry)")
def remove_wait_queue(wq_head: wait_queue_head, wq_entry: wait_queue_entry) -> None:
    """Unlink *wq_entry*, leaving its link poisoned (``list_del``)."""
    _check_head(wq_head)
    _check_del(wq_entry)
    # An initialised but unqueued entry (self-linked: e.g. an autoremove entry a
    # wake-up already took off) is fine: list_del() of a self-linked node
    # changes nothing and passes CONFIG_DEBUG_LIST's prev->next/next->prev
    # checks, so the kernel reports nothing.  The entry is poisoned all the same.
    wq_entry.prev.next = wq_entry.next
    wq_entry.next.prev = wq_entry.prev
    wq_entry.next = wq_entry.prev = LIST_POISON


@export("linux/wait.h",
        c="void prepare_to_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry, int state)")
def prepare_to_wait(wq_head: wait_queue_head, wq_entry: wait_queue_entry, state: int) -> None:
    """Clear EXCLUSIVE; queue *wq_entry* at the head if it is not queued; set the
    task state.  Then test the condition and ``schedule()``; ``finish_wait()`` after."""
    _check_head(wq_head)
    wq_entry.flags &= ~WQ_FLAG_EXCLUSIVE
    if _list_empty(wq_entry):
        __add_wait_queue(wq_head, wq_entry)
    task = cur.k.current
    task.state = state
    task.blocked_on = wq_head


@export("linux/wait.h",
        c="bool prepare_to_wait_exclusive(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry, int state)")
def prepare_to_wait_exclusive(wq_head: wait_queue_head, wq_entry: wait_queue_entry, state: int) -> bool:
    """Set EXCLUSIVE; queue at the tail if not queued; set the state.  True if
    it queued the entry on an empty queue (it is the first waiter)."""
    _check_head(wq_head)
    was_empty = False
    wq_entry.flags |= WQ_FLAG_EXCLUSIVE
    if _list_empty(wq_entry):
        was_empty = wq_head.head.next is wq_head.head
        __add_wait_queue_entry_tail(wq_head, wq_entry)
    task = cur.k.current
    task.state = state
    task.blocked_on = wq_head
    return was_empty


@export("linux/wait.h",
        c="long prepare_to_wait_event(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry, int state)")
def prepare_to_wait_event(wq_head: wait_queue_head, wq_entry: wait_queue_entry, state: int) -> int:
    """The wait_event*() step: with a signal pending for *state*, dequeue the
    entry and return -ERESTARTSYS (state unchanged); else queue it if needed
    (tail if EXCLUSIVE, else head), set the state, return 0."""
    if wq_head is None:
        _check_head(wq_head)
    task = cur.k.current
    if task.tif & _SIGNAL_TIFS and signal_pending_state(state, task):
        if wq_entry.queued:
            _list_del_init(wq_entry)
        return -512  # -ERESTARTSYS
    if wq_entry.next is wq_entry or _list_empty(wq_entry):  # list_empty(), fast case first
        head = wq_head.head
        if wq_entry.flags & WQ_FLAG_EXCLUSIVE:
            __add_wait_queue_entry_tail(wq_head, wq_entry)
        elif head.next is head:  # __add_wait_queue() on an empty queue, inlined
            head.next = head.prev = wq_entry
            wq_entry.next = wq_entry.prev = head
        else:
            __add_wait_queue(wq_head, wq_entry)
    task.state = state
    task.blocked_on = wq_head
    return 0


@export("linux/wait.h",
        c="void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry)")
def finish_wait(wq_head: wait_queue_head, wq_entry: wait_queue_entry) -> None:
    """Set the task RUNNING and dequeue *wq_entry* if a wake-up has not already."""
    task = cur.k.current
    task.state = TASK_RUNNING
    task.blocked_on = None
    n = wq_entry.next
    if n is not wq_entry:   # !list_empty_careful(): also a poisoned/NULL link
        if n is LIST_POISON or n is None:
            _check_del(wq_entry)
        p = wq_entry.prev  # list_del_init(), inlined (hot path)
        p.next = n
        n.prev = p
        wq_entry.next = wq_entry.prev = wq_entry


@export("linux/wait.h", points=False)
def waitqueue_active(wq_head: wait_queue_head) -> bool:
    """Does the queue have entries?  (No lock, no barrier: racy by design.)"""
    return wq_head.head.next is not wq_head.head


@export("linux/wait.h")
def wq_has_sleeper(wq_head: wait_queue_head) -> bool:
    """``waitqueue_active`` after a full barrier."""
    return wq_head.head.next is not wq_head.head


@export("linux/wait.h", points=False)
def wq_has_single_sleeper(wq_head: wait_queue_head) -> bool:
    """Exactly one entry queued."""
    n = wq_head.head.next
    return n is not wq_head.head and n.next is wq_head.head


# -- wake functions -----------------------------------------------------------

@export("linux/wait.h", points=False,
        c="int default_wake_function(struct wait_queue_entry *wq_entry, unsigned mode, int flags, void *key)")
def default_wake_function(wq_entry: wait_queue_entry, mode: int, wake_flags: int, key: Any) -> int:
    """``try_to_wake_up(wq_entry->private, mode)``: 1 if the task was woken."""
    return cur.k.try_to_wake_up(wq_entry.private, mode)


@export("linux/wait.h", points=False,
        c="int autoremove_wake_function(struct wait_queue_entry *wq_entry, unsigned mode, int sync, void *key)")
def autoremove_wake_function(wq_entry: wait_queue_entry, mode: int, sync: int, key: Any) -> int:
    """As default_wake_function, and dequeue the entry -- only if it woke the task."""
    ret = cur.k.try_to_wake_up(wq_entry.private, mode)
    if ret:
        _list_del_init(wq_entry)
    return ret


@export("linux/wait.h", points=False,
        c="int woken_wake_function(struct wait_queue_entry *wq_entry, unsigned mode, int sync, void *key)")
def woken_wake_function(wq_entry: wait_queue_entry, mode: int, sync: int, key: Any) -> int:
    """Set WQ_FLAG_WOKEN (always), then wake as default_wake_function; never dequeues."""
    wq_entry.flags |= WQ_FLAG_WOKEN
    return cur.k.try_to_wake_up(wq_entry.private, mode)


def __wake_up_common(wq_head: wait_queue_head, mode: int, nr_exclusive: int, wake_flags: int,
                     key: Any) -> int:
    """Walk the queue head to tail calling each entry's wake function; stop on a
    negative return or after *nr_exclusive* exclusive wake-ups (0: no limit).
    Returns the exclusive wake-ups still unused."""
    head = wq_head.head
    curr = head.next
    while curr is not head:
        if _needs_check(curr):
            check_stale(curr)
        nxt = curr.next
        flags = curr.flags
        func = curr.func
        if func is autoremove_wake_function:
            # The wait_event*() / DEFINE_WAIT entry: autoremove_wake_function()
            # inlined, as this walk is the hot path of every wake-up.
            ret = cur.k.try_to_wake_up(curr.private, mode)
            if ret:
                curr.prev.next = nxt  # list_del_init()
                nxt.prev = curr.prev
                curr.next = curr.prev = curr
        else:
            ret = func(curr, mode, wake_flags, key)
        if ret < 0:
            break
        if ret and flags & WQ_FLAG_EXCLUSIVE:
            nr_exclusive -= 1
            if nr_exclusive == 0:
                break
        curr = nxt
    return nr_exclusive


@export("linux/wait.h", name="__wake_up",
        c="int __wake_up(struct wait_queue_head *wq_head, unsigned int mode, int nr, void *key)")
def __wake_up(wq_head: wait_queue_head, mode: int, nr_exclusive: int, key: Any) -> int:
    """Wake waiters in *mode*; returns the number of exclusive tasks woken."""
    if wq_head is None:
        _check_head(wq_head)
    return nr_exclusive - __wake_up_common(wq_head, mode, nr_exclusive, 0, key)


_wake = __wake_up.__wrapped__  # type: ignore[attr-defined]


def _wake_points(mode: int, nr_exclusive: int, key: Any, wq_head: wait_queue_head) -> int:
    """``__wake_up()`` bracketed by the scheduling points of an exported call:
    the body of every ``wake_up*`` macro (``_accel`` puts the C one here)."""
    k = cur.k
    k.now += k.cost
    if k.now >= k.due:
        k.point_slow()
    r = _wake(wq_head, mode, nr_exclusive, key)
    if k.now >= k.due:
        k.point_slow()
    return r




@export("linux/wait.h", kind="macro", points=False)
def wake_up(wq_head: wait_queue_head) -> int:
    """Wake all non-exclusive waiters and one exclusive waiter."""
    return _wake_points(TASK_NORMAL, 1, None, wq_head)


@export("linux/wait.h", kind="macro", points=False)
def wake_up_nr(wq_head: wait_queue_head, nr: int) -> int:
    """Wake all non-exclusive waiters and up to *nr* exclusive ones (0: all)."""
    return _wake_points(TASK_NORMAL, nr, None, wq_head)


@export("linux/wait.h", kind="macro", points=False)
def wake_up_all(wq_head: wait_queue_head) -> int:
    """Wake every waiter."""
    return _wake_points(TASK_NORMAL, 0, None, wq_head)


@export("linux/wait.h", kind="macro", points=False)
def wake_up_interruptible(wq_head: wait_queue_head) -> int:
    """As wake_up, but only TASK_INTERRUPTIBLE sleepers."""
    return _wake_points(TASK_INTERRUPTIBLE, 1, None, wq_head)


@export("linux/wait.h", kind="macro", points=False)
def wake_up_interruptible_nr(wq_head: wait_queue_head, nr: int) -> int:
    """As wake_up_nr, but only TASK_INTERRUPTIBLE sleepers."""
    return _wake_points(TASK_INTERRUPTIBLE, nr, None, wq_head)


@export("linux/wait.h", kind="macro", points=False)
def wake_up_interruptible_all(wq_head: wait_queue_head) -> int:
    """As wake_up_all, but only TASK_INTERRUPTIBLE sleepers."""
    return _wake_points(TASK_INTERRUPTIBLE, 0, None, wq_head)


@export("linux/wait.h", kind="macro", points=False)
def wake_up_interruptible_sync(wq_head: wait_queue_head) -> int:
    """As wake_up_interruptible; the "sync" hint (the waker is about to sleep,
    so don't migrate the wakee) changes nothing on kernsim's one CPU."""
    return _wake_points(TASK_INTERRUPTIBLE, 1, None, wq_head)


@export("linux/wait.h", kind="macro", points=False)
def wake_up_poll(wq_head: wait_queue_head, mask: int) -> int:
    """wake_up with a poll mask as key."""
    return _wake_points(TASK_NORMAL, 1, mask, wq_head)


@export("linux/wait.h", kind="macro", points=False)
def wake_up_interruptible_poll(wq_head: wait_queue_head, mask: int) -> int:
    """wake_up_interruptible with a poll mask as key."""
    return _wake_points(TASK_INTERRUPTIBLE, 1, mask, wq_head)


@export("linux/wait.h",
        c="void __wake_up_locked(struct wait_queue_head *wq_head, unsigned int mode, int nr)")
def __wake_up_locked(wq_head: wait_queue_head, mode: int, nr: int) -> None:
    """``__wake_up`` for a caller that already holds the queue's lock."""
    _check_head(wq_head)
    __wake_up_common(wq_head, mode, nr, 0, None)


_wake_locked = __wake_up_locked.__wrapped__  # type: ignore[attr-defined]


@export("linux/wait.h", kind="macro")
def wake_up_locked(wq_head: wait_queue_head) -> None:
    """wake_up() with the queue's lock held (e.g. in wait_event_lock_irq code)."""
    _wake_locked(wq_head, TASK_NORMAL, 1)


@export("linux/wait.h", kind="macro")
def wake_up_all_locked(wq_head: wait_queue_head) -> None:
    """wake_up_all() with the queue's lock held."""
    _wake_locked(wq_head, TASK_NORMAL, 0)


# -- wait_woken ---------------------------------------------------------------

@export("linux/wait.h",
        c="long wait_woken(struct wait_queue_entry *wq_entry, unsigned mode, long timeout)")
def wait_woken(wq_entry: wait_queue_entry, mode: int, timeout: int) -> int:
    """Sleep in *mode* for up to *timeout* jiffies unless *wq_entry* was already
    woken (WQ_FLAG_WOKEN) or the caller is a kthread being stopped; then clear
    the flag.  Returns the remaining timeout."""
    from ._kthread import should_stop_or_park

    k = cur.k
    task = k.current
    task.state = mode
    if not wq_entry.flags & WQ_FLAG_WOKEN and not should_stop_or_park(task):
        timeout = _schedule_timeout(timeout)
    task.state = TASK_RUNNING
    wq_entry.flags &= ~WQ_FLAG_WOKEN
    return timeout


__all__ = ["current"]
