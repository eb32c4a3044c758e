/*
 * kernsim._core._fastpath: the hot path of wait_event() and wake_up() in C.
 *
 * Why: a ping-pong through wait_event()/wake_up() is the commonest thing a
 * module does, and in pure Python every wake-up costs ~40 interpreted calls
 * and ~150 attribute operations.  This file runs the *same* algorithm as the
 * Python reference (``_wait_event.___wait_event`` and
 * ``_waitqueue.__wake_up_common`` with the scheduling points of their exported
 * wrappers), step for step, but without the interpreter in between.
 *
 * It holds no semantics of its own:
 *  - every object it touches is a Python object of the core (Task,
 *    wait_queue_head, wait_queue_entry, list_head, the Kernel); fields of the
 *    core's __slots__ classes are read at their slot offsets, any other type
 *    (the C bridge's proxies over a C module's memory) through ordinary
 *    getattr/setattr, exactly as the Python code would;
 *  - whenever a step leaves its common case (a signal is pending, a priority
 *    waiter, a poisoned link, an unknown task type...), it calls the Python
 *    implementation of that step before touching anything;
 *  - schedule() and point_slow() are always the Python ones, so stack traces,
 *    policies, timers and diagnostics see exactly what they see without it.
 *
 * ``KERNSIM_PURE=1`` in the environment turns it off (the tests run the core
 * both ways).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* ---- what setup() hands us --------------------------------------------- */

static PyObject *cur_holder;          /* _current.cur (its slot "k") */
static PyTypeObject *SchedType;       /* _sched.Scheduler */
static PyTypeObject *TaskType;
static PyTypeObject *EntryType;       /* wait_queue_entry */
static PyTypeObject *HeadType;        /* wait_queue_head */
static PyTypeObject *ListHeadType;    /* list_head */
static PyObject *autoremove_fn;       /* the exported autoremove_wake_function */
static PyObject *py_prepare;          /* prepare_to_wait_event (no points) */
static PyObject *py_finish;           /* finish_wait (no points) */
static PyObject *py_schedule;         /* schedule (no points) */
static PyObject *py_wake;             /* __wake_up (no points) */
static PyObject *empty_str;
static PyTypeObject *GletCtxType;      /* _task.GreenletContext */
static PyObject *sleep_site;
static PyObject *empty_tuple;
/* greenlet's C API: PyGreenlet_Switch(g, args, kwargs), or NULL (then g.switch()). */
static PyObject *(*greenlet_switch)(PyObject *, PyObject *, PyObject *);          /* what a trace shows for a task asleep in sched_block() */

static Py_ssize_t cur_k;
static Py_ssize_t K_now, K_cost, K_due, K_current, K_rq, K_eager;
static Py_ssize_t K_base_cost, K_slice_ns, K_next_event, K_horizon, K_clock_virtual, K_stop_reason;
static Py_ssize_t K_lockup_thresh_ns, K_next_tick;
static Py_ssize_t K_hz, K_initial_jiffies, K_in_softirq, K_wheel_depth, K_heap, K_timer_seq;
static Py_ssize_t T_sleep_timer;
static Py_ssize_t TM_expires, TM_when, TM_seq, TM_pending;
static PyTypeObject *TimerType;
static PyObject *heappush;           /* heapq.heappush */
static PyObject *py_msleep;          /* the Python msleep (exported impl, no points) */
static PyObject *py_schedule_timeout;  /* the Python schedule_timeout (no points) */
static PyObject *site_timeout;       /* sleep_site of a task in schedule_timeout() from msleep() */
static PyObject *site_timeout_slow;  /* ... when that schedule() is the Python one */
static PyObject *site_msleep;        /* ... when schedule_timeout() is the Python one */
static PyObject *heappop;            /* heapq.heappop */
static PyObject *py_run_due;         /* Scheduler.run_due, the Python reference */
static PyObject *process_timeout_fn; /* _time.process_timeout */
static PyObject *inf_obj;            /* float("inf") */
static PyTypeObject *KthreadType;    /* _kthread.KthreadInfo */
static PyObject *py_should_stop;     /* kthread_should_stop (no points) */
static Py_ssize_t T_kthread, KT_flags, TM_function, TM_data;
static Py_ssize_t T_state, T_tif, T_blocked_on, T_on_rq, T_preempt_count;
static Py_ssize_t T_nvcsw, T_spin_start, T_slice_end, T_lockup_report_at, T_context, T_doomed, T_sleep_site;
static Py_ssize_t G_glet;
static Py_ssize_t E_flags, E_private, E_func, E_next, E_prev, E_name, E_owner;
static Py_ssize_t H_head, LH_next, LH_prev;

static PyObject *s_point_slow, *s_try_to_wake_up, *s_append, *s_popleft, *s_appendleft, *s_switch;
static PyObject *s_resume_doomed, *s_account_ticks;
static PyObject *s_next, *s_prev, *s_flags, *s_private, *s_func, *s_head;

#define WQ_FLAG_EXCLUSIVE 0x01
#define WQ_FLAG_PRIORITY 0x10
#define TASK_INTERRUPTIBLE 0x1
#define TASK_WAKEKILL 0x100
#define SIGNAL_TIFS ((1L << 2) | (1L << 17)) /* TIF_SIGPENDING | TIF_NOTIFY_SIGNAL */

#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

/* A slot's value, borrowed; NULL with AttributeError if unset. */
static inline PyObject *
slot_get(PyObject *o, Py_ssize_t off, const char *name)
{
    PyObject *v = SLOT(o, off);
    if (v == NULL)
        PyErr_Format(PyExc_AttributeError, "'%s' object has no attribute '%s'",
                     Py_TYPE(o)->tp_name, name);
    return v;
}

/* Set a slot (new reference taken to v). */
static inline void
slot_set(PyObject *o, Py_ssize_t off, PyObject *v)
{
    PyObject *old = SLOT(o, off);
    Py_INCREF(v);
    SLOT(o, off) = v;
    Py_XDECREF(old);
}

/* Set a slot, stealing v (NULL: error already set). */
static inline int
slot_steal(PyObject *o, Py_ssize_t off, PyObject *v)
{
    PyObject *old;
    if (v == NULL)
        return -1;
    old = SLOT(o, off);
    SLOT(o, off) = v;
    Py_XDECREF(old);
    return 0;
}

#if LONG_MAX < 0x7fffffffffffffffL
#error "kernsim._core._fastpath needs a 64-bit long"
#endif

static int
member_offset(PyTypeObject *tp, const char *name, Py_ssize_t *out)
{
    PyObject *d = PyDict_GetItemString(tp->tp_dict, name);
    if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ member", tp->tp_name, name);
        return -1;
    }
    *out = ((PyMemberDescrObject *)d)->d_member->offset;
    return 0;
}

/* ---- list nodes: wait_queue_entry, list_head, or anything with next/prev ---- */

/* node.next / node.prev as a new reference. */
static PyObject *
node_get(PyObject *n, int prev)
{
    PyObject *v;
    if (Py_IS_TYPE(n, EntryType))
        v = slot_get(n, prev ? E_prev : E_next, prev ? "prev" : "next");
    else if (Py_IS_TYPE(n, ListHeadType))
        v = slot_get(n, prev ? LH_prev : LH_next, prev ? "prev" : "next");
    else
        return PyObject_GetAttr(n, prev ? s_prev : s_next);
    Py_XINCREF(v);
    return v;
}

static int
node_set(PyObject *n, int prev, PyObject *v)
{
    if (Py_IS_TYPE(n, EntryType))
        slot_set(n, prev ? E_prev : E_next, v);
    else if (Py_IS_TYPE(n, ListHeadType))
        slot_set(n, prev ? LH_prev : LH_next, v);
    else
        return PyObject_SetAttr(n, prev ? s_prev : s_next, v);
    return 0;
}

static int
is_node(PyObject *n)
{
    return Py_IS_TYPE(n, EntryType) || Py_IS_TYPE(n, ListHeadType);
}

/* ---- the kernel's clock: scheduling points ---------------------------------- */

/* An exact int of one or two digits (|v| < 2^60: every time, cost and count
 * the hot path reads), read from its digits: PyLong_AsLong's call and
 * overflow loop were a tenth of a wake-up.  CPython 3.11's layout; other
 * versions, and anything else, take PyLong_AsLong. */
static inline int
small_int(PyObject *v, long long *out)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
    if (PyLong_CheckExact(v)) {
        const digit *d = ((PyLongObject *)v)->ob_digit;
        switch (Py_SIZE(v)) {
        case 0: *out = 0; return 1;
        case 1: *out = (long long)d[0]; return 1;
        case -1: *out = -(long long)d[0]; return 1;
        case 2: *out = (long long)d[0] | ((long long)d[1] << PyLong_SHIFT); return 1;
        case -2: *out = -((long long)d[0] | ((long long)d[1] << PyLong_SHIFT)); return 1;
        }
    }
#else
    (void)v; (void)out;
#endif
    return 0;
}

/* PyLong_AsLong, with small_int's shortcut: same result, same errors. */
static inline long
fast_long(PyObject *v)
{
    long long x;
    if (small_int(v, &x))
        return (long)x;
    return PyLong_AsLong(v);
}

static inline int
as_ll(PyObject *v, long long *out)
{
    long long x;
    if (v == NULL)
        return -1;
    if (small_int(v, out))
        return 0;
    x = PyLong_AsLong(v);  /* 64 bits here; faster than PyLong_AsLongLong */
    if (x == -1 && PyErr_Occurred())
        return -1;
    *out = x;
    return 0;
}

/* ``if k.now >= k.due: k.point_slow()``: 1 if it called point_slow(), 0 if
 * not, -1 with an exception. */
static int
point_check_at(PyObject *k, long long now)
{
    PyObject *due = slot_get(k, K_due, "due"), *r;
    int slow;
    if (due == NULL)
        return -1;
    if (PyLong_CheckExact(due)) {
        long long d;
        if (as_ll(due, &d) < 0)
            return -1;
        slow = now >= d;
    }
    else if (PyFloat_CheckExact(due)) {
        slow = (double)now >= PyFloat_AS_DOUBLE(due);
    }
    else {
        PyObject *n = PyLong_FromLongLong(now);
        if (n == NULL)
            return -1;
        slow = PyObject_RichCompareBool(n, due, Py_GE);
        Py_DECREF(n);
        if (slow < 0)
            return -1;
    }
    if (!slow)
        return 0;
    r = PyObject_CallMethodNoArgs(k, s_point_slow);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 1;
}

static int
point_check(PyObject *k)
{
    long long now;
    if (as_ll(slot_get(k, K_now, "now"), &now) < 0)
        return -1;
    return point_check_at(k, now);
}

/* ``k.now += k.cost; if k.now >= k.due: k.point_slow()``: as point_check_at. */
static int
point_add(PyObject *k)
{
    long long now, cost;
    if (as_ll(slot_get(k, K_now, "now"), &now) < 0 || as_ll(slot_get(k, K_cost, "cost"), &cost) < 0)
        return -1;
    now += cost;
    if (slot_steal(k, K_now, PyLong_FromLongLong(now)) < 0)
        return -1;
    return point_check_at(k, now);
}

/* ---- the run queue (a deque) ---- */

/* rq.append / rq.popleft, bound once per run queue. */
static PyObject *rq_seen, *rq_append, *rq_popleft;

static int
rq_methods(PyObject *rq)
{
    if (rq == rq_seen)
        return 0;
    Py_XSETREF(rq_append, PyObject_GetAttr(rq, s_append));
    Py_XSETREF(rq_popleft, PyObject_GetAttr(rq, s_popleft));
    if (rq_append == NULL || rq_popleft == NULL) {
        Py_CLEAR(rq_seen);
        return -1;
    }
    Py_INCREF(rq);
    Py_XSETREF(rq_seen, rq);
    return 0;
}

/* ---- the running kernel ------------------------------------------------------ */

/*
 * cur.k as a new reference, or NULL with an exception: with no kernel running
 * cur.k is a placeholder whose every attribute raises KernelNotRunning, and
 * reading one here raises it for the caller.
 */
static PyObject *
running_kernel(void)
{
    PyObject *k = slot_get(cur_holder, cur_k, "k"), *r;
    if (k == NULL)
        return NULL;
    if (!PyObject_TypeCheck(k, SchedType)) {
        r = PyObject_GetAttrString(k, "current");
        if (r != NULL) {  /* not the placeholder after all: refuse anyway */
            Py_DECREF(r);
            PyErr_SetString(PyExc_RuntimeError, "kernsim: no kernel is running");
        }
        return NULL;
    }
    Py_INCREF(k);
    return k;
}

/* ---- try_to_wake_up ------------------------------------------------------------ */

static long
ttwu(PyObject *k, PyObject *p, long mask)
{
    long state;
    PyObject *v;
    if (!Py_IS_TYPE(p, TaskType)) {
        PyObject *r = PyObject_CallMethod(k, "try_to_wake_up", "Ol", p, mask);
        if (r == NULL)
            return -1;
        state = fast_long(r);
        Py_DECREF(r);
        return state;
    }
    v = slot_get(p, T_state, "state");
    if (v == NULL)
        return -1;
    state = fast_long(v);
    if (state == -1 && PyErr_Occurred())
        return -1;
    if (!(state & mask))
        return 0;
    if (slot_steal(p, T_state, PyLong_FromLong(0)) < 0)
        return -1;
    v = slot_get(p, T_on_rq, "on_rq");
    if (v == NULL)
        return -1;
    if (!PyObject_IsTrue(v)) {
        PyObject *rq, *r, *eager;
        slot_set(p, T_on_rq, Py_True);
        rq = slot_get(k, K_rq, "rq");
        if (rq == NULL)
            return -1;
        if (rq_methods(rq) < 0)
            return -1;
        r = PyObject_CallOneArg(rq_append, p);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
        eager = slot_get(k, K_eager, "eager");
        if (eager == NULL)
            return -1;
        if (PyObject_IsTrue(eager) && slot_steal(k, K_due, PyLong_FromLong(-1)) < 0)
            return -1;
    }
    return 1;
}

/* ---- prepare_to_wait_event / finish_wait --------------------------------------- */

/* The Python prepare_to_wait_event(), for every case but the common one. */
static long
prepare_slow(PyObject *wq_head, PyObject *entry, PyObject *state_obj)
{
    PyObject *args[3] = {wq_head, entry, state_obj};
    PyObject *r = PyObject_Vectorcall(py_prepare, args, 3, NULL);
    long v;
    if (r == NULL)
        return -1;  /* callers check PyErr_Occurred() */
    v = fast_long(r);
    Py_DECREF(r);
    return v;
}

/* _list_add(new, prev, next): next.prev = new; new.next = next; new.prev = prev; prev.next = new */
static int
list_add(PyObject *new, PyObject *prev, PyObject *next)
{
    if (node_set(next, 1, new) < 0 || node_set(new, 0, next) < 0 ||
        node_set(new, 1, prev) < 0 || node_set(prev, 0, new) < 0)
        return -1;
    return 0;
}

/*
 * prepare_to_wait_event(wq_head, entry, state) for an entry made by the loop
 * below: 0, -ERESTARTSYS, or -1 with an exception (check PyErr_Occurred()).
 */
static long
prepare(PyObject *k, PyObject *wq_head, PyObject *entry, long state, PyObject *state_obj, int *slow)
{
    PyObject *task, *next, *head = NULL, *first = NULL, *v;
    long tif, flags;
    int rc = -1;

    task = slot_get(k, K_current, "current");
    if (task == NULL)
        return -1;
    if (!Py_IS_TYPE(task, TaskType) || !Py_IS_TYPE(wq_head, HeadType))
        return *slow = 1, prepare_slow(wq_head, entry, state_obj);
    v = slot_get(task, T_tif, "tif");
    if (v == NULL || ((tif = fast_long(v)) == -1 && PyErr_Occurred()))
        return -1;
    if (tif & SIGNAL_TIFS)
        return *slow = 1, prepare_slow(wq_head, entry, state_obj);  /* maybe -ERESTARTSYS */
    next = SLOT(entry, E_next);
    if (next != entry) {
        if (next == NULL || !is_node(next))  /* poisoned or never initialised */
            return *slow = 1, prepare_slow(wq_head, entry, state_obj);
    }
    else {
        head = slot_get(wq_head, H_head, "head");
        if (head == NULL)
            return -1;
        Py_INCREF(head);
        v = slot_get(entry, E_flags, "flags");
        if (v == NULL || ((flags = fast_long(v)) == -1 && PyErr_Occurred()))
            goto out;
        if (flags & WQ_FLAG_EXCLUSIVE) {
            /* __add_wait_queue_entry_tail() */
            PyObject *last = node_get(head, 1);
            if (last == NULL)
                goto out;
            if (Py_IS_TYPE(last, EntryType) && SLOT(last, E_owner) != Py_None) {
                /* a module's entry: the Python list_add checks it is still live */
                Py_DECREF(last);
                Py_DECREF(head);
                return *slow = 1, prepare_slow(wq_head, entry, state_obj);
            }
            rc = list_add(entry, last, head);
            Py_DECREF(last);
            if (rc < 0)
                goto out;
        }
        else {
            first = node_get(head, 0);
            if (first == NULL)
                goto out;
            if (first != head) {
                /* __add_wait_queue() skips PRIORITY entries: leave that to Python. */
                long fflags;
                if (!Py_IS_TYPE(first, EntryType)) {
                    Py_DECREF(first);
                    Py_DECREF(head);
                    return *slow = 1, prepare_slow(wq_head, entry, state_obj);
                }
                v = slot_get(first, E_flags, "flags");
                if (v == NULL || ((fflags = fast_long(v)) == -1 && PyErr_Occurred()))
                    goto out;
                if ((fflags & WQ_FLAG_PRIORITY) || SLOT(first, E_owner) != Py_None) {
                    Py_DECREF(first);
                    Py_DECREF(head);
                    return *slow = 1, prepare_slow(wq_head, entry, state_obj);
                }
            }
            if (list_add(entry, head, first) < 0)
                goto out;
        }
    }
    slot_set(task, T_state, state_obj);
    slot_set(task, T_blocked_on, wq_head);
    rc = 0;
out:
    Py_XDECREF(first);
    Py_XDECREF(head);
    return rc;
}

/* finish_wait(wq_head, entry): 0, or -1 with an exception. */
static int
finish(PyObject *k, PyObject *wq_head, PyObject *entry, int *slow)
{
    PyObject *task = slot_get(k, K_current, "current"), *n, *p, *r;
    PyObject *args[2] = {wq_head, entry};

    if (task == NULL)
        return -1;
    if (Py_IS_TYPE(task, TaskType)) {
        n = SLOT(entry, E_next);
        p = SLOT(entry, E_prev);
        if (n == entry || (n != NULL && p != NULL && is_node(n) && is_node(p))) {
            if (slot_steal(task, T_state, PyLong_FromLong(0)) < 0)
                return -1;
            slot_set(task, T_blocked_on, Py_None);
            if (n != entry) {
                /* list_del_init(): p.next = n; n.prev = p */
                Py_INCREF(n);
                Py_INCREF(p);
                if (node_set(p, 0, n) < 0 || node_set(n, 1, p) < 0) {
                    Py_DECREF(n);
                    Py_DECREF(p);
                    return -1;
                }
                slot_set(entry, E_next, entry);
                slot_set(entry, E_prev, entry);
                Py_DECREF(n);
                Py_DECREF(p);
            }
            return 0;
        }
    }
    *slow = 1;
    r = PyObject_Vectorcall(py_finish, args, 2, NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* ---- schedule() ------------------------------------------------------------------ */

/* A number slot (an int, or a float such as INF) as a double, for
 * comparisons; ints compare as ints (see num_lt). */
static int
as_double(PyObject *v, double *out)
{
    if (v == NULL)
        return -1;
    if (PyFloat_CheckExact(v)) {
        *out = PyFloat_AS_DOUBLE(v);
        return 0;
    }
    *out = PyLong_AsDouble(v);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* a < b for two numbers (ints or floats): 1, 0, or -1 with an exception. */
static int
num_lt(PyObject *a, PyObject *b)
{
    double x, y;
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b)) {
        long long i, j;
        if (as_ll(a, &i) < 0 || as_ll(b, &j) < 0)
            return -1;
        return i < j;
    }
    if (PyFloat_CheckExact(a) && PyFloat_CheckExact(b))
        return PyFloat_AS_DOUBLE(a) < PyFloat_AS_DOUBLE(b);
    if (PyFloat_CheckExact(a) && PyLong_CheckExact(b)) {
        long long j;
        if (as_ll(b, &j) < 0)
            return -1;
        return PyFloat_AS_DOUBLE(a) < (double)j;
    }
    if (PyLong_CheckExact(a) && PyFloat_CheckExact(b)) {
        long long i;
        if (as_ll(a, &i) < 0)
            return -1;
        return (double)i < PyFloat_AS_DOUBLE(b);
    }
    if (as_double(a, &x) < 0 || as_double(b, &y) < 0)
        return -1;
    return x < y;
}

/* a + b for ints, or a float if b is one (INF thresholds). */
static PyObject *
add_num(long long a, PyObject *b)
{
    long long y;
    if (PyFloat_CheckExact(b))
        return PyFloat_FromDouble((double)a + PyFloat_AS_DOUBLE(b));
    if (as_ll(b, &y) < 0)
        return NULL;
    return PyLong_FromLongLong(a + y);
}

/* The CPU changes hands at *now*: if a tick has come since the last look,
 * Scheduler.account_ticks(task) charges the ticks to *task* (Py_None: idle).
 * Most switches pay the comparison only. */
static int
account_ticks(PyObject *k, PyObject *task, long long now)
{
    long long next_tick;
    PyObject *r;

    if (as_ll(slot_get(k, K_next_tick, "next_tick"), &next_tick) < 0)
        return -1;
    if (now < next_tick)
        return 0;
    r = PyObject_CallMethodOneArg(k, s_account_ticks, task);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Scheduler._enter(task): make *task* current and set ``due``; *prev* (the
 * task that just left the CPU) is charged the ticks it had. */
static __attribute__((noinline)) int
enter(PyObject *k, PyObject *task, PyObject *prev)
{
    PyObject *cost, *base, *spin, *v, *due_obj, *horizon;
    long long now, slice_ns;
    int eq, lt;

    slot_set(k, K_current, task);
    cost = slot_get(k, K_cost, "cost");
    base = slot_get(k, K_base_cost, "base_cost");
    if (cost == NULL || base == NULL)
        return -1;
    if (cost != base) {
        eq = PyObject_RichCompareBool(cost, base, Py_EQ);
        if (eq < 0)
            return -1;
        if (!eq)
            slot_set(k, K_cost, base);  /* the end of a busy loop's boost */
    }
    if (as_ll(slot_get(k, K_now, "now"), &now) < 0 ||
        as_ll(slot_get(k, K_slice_ns, "slice_ns"), &slice_ns) < 0)
        return -1;
    if (account_ticks(k, prev, now) < 0 ||
        slot_steal(task, T_slice_end, PyLong_FromLongLong(now + slice_ns)) < 0)
        return -1;
    spin = slot_get(task, T_spin_start, "spin_start");
    if (spin == NULL)
        return -1;
    if (spin == Py_None) {
        PyObject *thresh;
        slot_set(task, T_spin_start, SLOT(k, K_now));
        thresh = slot_get(k, K_lockup_thresh_ns, "lockup_thresh_ns");
        if (thresh == NULL)
            return -1;
        v = add_num(now, thresh);
        if (slot_steal(task, T_lockup_report_at, v) < 0)
            return -1;
    }
    v = slot_get(k, K_eager, "eager");
    if (v == NULL)
        return -1;
    if (PyObject_IsTrue(v)) {
        Py_ssize_t n = PyObject_Size(slot_get(k, K_rq, "rq"));
        if (n < 0)
            return -1;
        if (n > 0)
            return slot_steal(k, K_due, PyLong_FromLong(-1));
    }
    /* due = min(next_event, slice_end, lockup_report_at, horizon) */
    due_obj = slot_get(k, K_next_event, "next_event");
    if (due_obj == NULL)
        return -1;
    v = SLOT(task, T_slice_end);
    if ((lt = num_lt(v, due_obj)) < 0)
        return -1;
    if (lt)
        due_obj = v;
    v = slot_get(task, T_lockup_report_at, "lockup_report_at");
    if (v == NULL || (lt = num_lt(v, due_obj)) < 0)
        return -1;
    if (lt)
        due_obj = v;
    horizon = slot_get(k, K_horizon, "horizon");
    if (horizon == NULL)
        return -1;
    if (horizon != Py_None) {
        if ((lt = num_lt(horizon, due_obj)) < 0)
            return -1;
        if (lt)
            due_obj = horizon;
    }
    v = slot_get(k, K_clock_virtual, "clock_virtual");
    if (v == NULL)
        return -1;
    if (PyObject_IsTrue(v))
        slot_set(k, K_due, due_obj);
    else if (slot_steal(k, K_due, PyLong_FromLong(-1)) < 0)
        return -1;
    return 0;
}

/*
 * Call fn(*args) with the running task's ``sleep_site`` set to *site* (None:
 * leave it): what a stack trace of the task shows for the C frames around
 * the call while it sleeps inside (see Task.sleep_site).
 */
static __attribute__((noinline)) PyObject *
call_at_site(PyObject *k, PyObject *site, PyObject *fn, PyObject *const *args, size_t nargs)
{
    PyObject *task = NULL, *r;
    if (site != Py_None) {
        task = slot_get(k, K_current, "current");
        if (task == NULL)
            return NULL;
        if (!Py_IS_TYPE(task, TaskType))
            task = NULL;
        else {
            Py_INCREF(task);
            slot_set(task, T_sleep_site, site);
        }
    }
    r = PyObject_Vectorcall(fn, args, nargs, NULL);
    if (task != NULL) {
        slot_set(task, T_sleep_site, Py_None);
        Py_DECREF(task);
    }
    return r;
}

/*
 * schedule() for the running task: the common case of Scheduler.schedule_core
 * (block, hand the CPU to the head of the run queue, both Python tasks);
 * anything else is the Python schedule().  While the task is switched away
 * its ``sleep_site`` names the kernel frames a stack trace shows for the C
 * frames: *site* when it switched here (``__schedule``, ``schedule`` and the
 * callers in C), *slow_site* around the Python schedule() (the callers in C,
 * after its frames).
 */
static int
sched_block(PyObject *k, PyObject *site, PyObject *slow_site)
{
    PyObject *prev, *v, *rq, *nxt = NULL, *pctx, *nctx, *glet, *r;
    long state, tif;
    long long nvcsw;
    Py_ssize_t n;

    prev = slot_get(k, K_current, "current");
    if (prev == NULL)
        return -1;
    if (!Py_IS_TYPE(prev, TaskType))
        goto slow;
    v = slot_get(prev, T_preempt_count, "preempt_count");
    if (v == NULL)
        return -1;
    if (PyObject_IsTrue(v))
        goto slow;  /* it holds a spinlock: the Python schedule() reports it */
    v = slot_get(prev, T_state, "state");
    if (v == NULL || ((state = fast_long(v)) == -1 && PyErr_Occurred()))
        return -1;
    if (state == 0)
        return 0;  /* TASK_RUNNING: schedule() returns at once */
    v = slot_get(prev, T_tif, "tif");
    if (v == NULL || ((tif = fast_long(v)) == -1 && PyErr_Occurred()))
        return -1;
    if (tif & SIGNAL_TIFS)
        goto slow;
    v = slot_get(k, K_eager, "eager");
    if (v == NULL)
        return -1;
    if (PyObject_IsTrue(v) || SLOT(k, K_stop_reason) != Py_None)
        goto slow;
    rq = slot_get(k, K_rq, "rq");
    if (rq == NULL || (n = PyObject_Size(rq)) < 0)
        return -1;
    if (n == 0)
        goto slow;  /* idle: time moves on */
    pctx = slot_get(prev, T_context, "context");
    if (pctx == NULL)
        return -1;
    if (!Py_IS_TYPE(pctx, GletCtxType))
        goto slow;
    if (rq_methods(rq) < 0)
        return -1;
    nxt = PyObject_CallNoArgs(rq_popleft);
    if (nxt == NULL)
        return -1;
    if (!Py_IS_TYPE(nxt, TaskType) || (nctx = SLOT(nxt, T_context)) == NULL ||
        !Py_IS_TYPE(nctx, GletCtxType)) {
        /* put it back as it was: the Python schedule() takes it from here */
        r = PyObject_CallMethodOneArg(rq, s_appendleft, nxt);
        Py_DECREF(nxt);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
        goto slow;
    }
    /* Committed: the steps of schedule_core, in its order. */
    Py_INCREF(prev);
    slot_set(prev, T_on_rq, Py_False);
    if (as_ll(slot_get(prev, T_nvcsw, "nvcsw"), &nvcsw) < 0 ||
        slot_steal(prev, T_nvcsw, PyLong_FromLongLong(nvcsw + 1)) < 0)
        goto error;
    slot_set(prev, T_spin_start, Py_None);
    if (enter(k, nxt, prev) < 0)
        goto error;
    glet = slot_get(nctx, G_glet, "glet");
    if (glet == NULL)
        goto error;
    Py_INCREF(glet);
    slot_set(prev, T_sleep_site, site);
    if (greenlet_switch != NULL)
        r = greenlet_switch(glet, empty_tuple, NULL);
    else
        r = PyObject_CallMethodNoArgs(glet, s_switch);
    slot_set(prev, T_sleep_site, Py_None);
    Py_DECREF(glet);
    if (r == NULL)
        goto error;
    Py_DECREF(r);
    Py_CLEAR(nxt);
    v = slot_get(prev, T_doomed, "doomed");
    if (v == NULL)
        goto error;
    if (v != Py_None) {
        /* its module's code was freed while it slept: it faults */
        r = PyObject_CallMethodOneArg(k, s_resume_doomed, prev);
        Py_XDECREF(r);
        if (r == NULL)
            goto error;
    }
    Py_DECREF(prev);
    return 0;
error:
    Py_XDECREF(nxt);
    Py_DECREF(prev);
    return -1;
slow:
    r = call_at_site(k, slow_site, py_schedule, NULL, 0);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 1;  /* through Python: its frames showed where it slept */
}

/* ---- ___wait_event ----------------------------------------------------------- */

/*
 * The loop's entry is done with.  If nothing but the loop holds it (three
 * references: the loop's, and its own next and prev) and it is unqueued, no
 * one can ever see it again: keep it as the spare the next wait re-initialises
 * (the kernel's entry is a stack slot used again by the next wait, too), so a
 * wait costs no allocation and leaves no cycle for the collector.
 */
static PyObject *spare_entry;

static void
drop_entry(PyObject *e)
{
    if (spare_entry == NULL && Py_REFCNT(e) == 3 && SLOT(e, E_next) == e &&
        SLOT(e, E_prev) == e) {
        spare_entry = e;  /* keeps the loop's reference */
        return;
    }
    Py_DECREF(e);
}

static PyObject *
new_entry(PyObject *task, long flags)
{
    PyObject *e = spare_entry;
    if (e != NULL)
        spare_entry = NULL;
    else {
        e = EntryType->tp_alloc(EntryType, 0);
        if (e == NULL)
            return NULL;
    }
    if (slot_steal(e, E_flags, PyLong_FromLong(flags)) < 0) {
        Py_DECREF(e);
        return NULL;
    }
    slot_set(e, E_private, task);
    slot_set(e, E_func, autoremove_fn);
    slot_set(e, E_next, e);  /* init_wait_entry(): unqueued */
    slot_set(e, E_prev, e);
    slot_set(e, E_name, empty_str);
    slot_set(e, E_owner, Py_None);  /* the macro's own entry: no module function owns it */
    return e;
}

PyDoc_STRVAR(wait_event_loop_doc,
"___wait_event(wq_head, condition, state, exclusive) -> 0 or -ERESTARTSYS\n\n"
"The loop of the wait_event*() macros with cmd = schedule() (see _wait_event).");

static PyObject *
wait_event_core(PyObject *wq_head, PyObject *condition, PyObject *state_obj, PyObject *excl_obj)
{
    PyObject *k, *task, *entry = NULL, *c;
    long state, interruptible, ret_int = 0;
    int exclusive, truth;

    state = fast_long(state_obj);
    if (state == -1 && PyErr_Occurred())
        return NULL;
    exclusive = PyObject_IsTrue(excl_obj);
    if (exclusive < 0)
        return NULL;
    k = running_kernel();
    if (k == NULL)
        return NULL;
    task = slot_get(k, K_current, "current");
    if (task == NULL)
        goto error;
    entry = new_entry(task, exclusive ? WQ_FLAG_EXCLUSIVE : 0);
    if (entry == NULL)
        goto error;
    interruptible = state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL);
    for (;;) {
        /* The point after prepare_to_wait_event() is skipped when no Python
         * code ran since the point before it: k.now and k.due are as that
         * point left them, so it could not fire. */
        int slow = point_add(k);
        if (slow < 0)
            goto error;
        ret_int = prepare(k, wq_head, entry, state, state_obj, &slow);
        if (ret_int == -1 && PyErr_Occurred())
            goto error;
        if (slow && point_check(k) < 0)
            goto error;
        c = PyObject_CallNoArgs(condition);
        if (c == NULL)
            goto error;
        truth = PyObject_IsTrue(c);
        Py_DECREF(c);
        if (truth < 0)
            goto error;
        if (truth)
            break;
        if (interruptible && ret_int) {
            drop_entry(entry);
            Py_DECREF(k);
            return PyLong_FromLong(ret_int);
        }
        if (point_add(k) < 0)
            goto error;
        if (sched_block(k, sleep_site, Py_None) < 0)
            goto error;
        if (point_check(k) < 0)
            goto error;
    }
    {
        int slow = point_add(k);  /* the point after finish_wait(): as above */
        if (slow < 0 || finish(k, wq_head, entry, &slow) < 0 || (slow && point_check(k) < 0))
            goto error;
    }
    drop_entry(entry);
    Py_DECREF(k);
    return PyLong_FromLong(0);
error:
    Py_XDECREF(entry);
    Py_DECREF(k);
    return NULL;
}

static PyObject *
wait_event_loop(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "___wait_event() takes 4 arguments");
        return NULL;
    }
    return wait_event_core(args[0], args[1], args[2], args[3]);
}

PyDoc_STRVAR(wait_event_macro_doc,
"wait_event(macro, state, exclusive, returns, wq_head, condition)\n\n"
"A wait_event*() macro without a timeout: *macro* is its Python reference\n"
"(called for a condition that is not callable, to report it), *returns* whether\n"
"it returns 0/-ERESTARTSYS (else None).  Bind the first four with partial().");

static PyObject *
wait_event_macro(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *condition, *c, *r;
    int truth, returns;

    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "wait_event() takes 6 arguments");
        return NULL;
    }
    condition = args[5];
    if (!PyCallable_Check(condition))
        return PyObject_Vectorcall(args[0], args + 4, 2, NULL);
    returns = PyObject_IsTrue(args[3]);
    if (returns < 0)
        return NULL;
    c = PyObject_CallNoArgs(condition);
    if (c == NULL)
        return NULL;
    truth = PyObject_IsTrue(c);
    Py_DECREF(c);
    if (truth < 0)
        return NULL;
    if (truth) {
        if (returns)
            return PyLong_FromLong(0);
        Py_RETURN_NONE;
    }
    r = wait_event_core(args[4], condition, args[1], args[2]);
    if (r == NULL || returns)
        return r;
    Py_DECREF(r);
    Py_RETURN_NONE;
}

/* ---- __wake_up ------------------------------------------------------------------ */

static long
field_long(PyObject *o, Py_ssize_t off, PyObject *name)
{
    PyObject *v;
    long x;
    if (Py_IS_TYPE(o, EntryType)) {
        v = SLOT(o, off);
        if (v == NULL) {
            PyErr_SetObject(PyExc_AttributeError, name);
            return -1;
        }
        return fast_long(v);
    }
    v = PyObject_GetAttr(o, name);
    if (v == NULL)
        return -1;
    x = fast_long(v);
    Py_DECREF(v);
    return x;
}

static PyObject *
field_obj(PyObject *o, Py_ssize_t off, PyObject *name)
{
    PyObject *v;
    if (Py_IS_TYPE(o, EntryType)) {
        v = SLOT(o, off);
        if (v == NULL)
            PyErr_SetObject(PyExc_AttributeError, name);
        Py_XINCREF(v);
        return v;
    }
    return PyObject_GetAttr(o, name);
}

/*
 * __wake_up_common(): walk head to tail; returns the exclusive wake-ups
 * left, or -1 with an exception (check PyErr_Occurred()).
 */
static long
wake_walk(PyObject *k, PyObject *wq_head, long mode, long nr_exclusive, PyObject *key)
{
    PyObject *head, *curr, *nxt = NULL, *func = NULL;
    long flags, ret;

    if (Py_IS_TYPE(wq_head, HeadType)) {
        head = slot_get(wq_head, H_head, "head");
        Py_XINCREF(head);
    }
    else
        head = PyObject_GetAttr(wq_head, s_head);
    if (head == NULL)
        return -1;
    curr = node_get(head, 0);
    if (curr == NULL)
        goto error;
    while (curr != head) {
        nxt = node_get(curr, 0);
        if (nxt == NULL)
            goto error;
        flags = field_long(curr, E_flags, s_flags);
        if (flags == -1 && PyErr_Occurred())
            goto error;
        func = field_obj(curr, E_func, s_func);
        if (func == NULL)
            goto error;
        if (func == autoremove_fn) {
            /* autoremove_wake_function(), inlined */
            PyObject *p = field_obj(curr, E_private, s_private);
            if (p == NULL)
                goto error;
            ret = ttwu(k, p, mode);
            Py_DECREF(p);
            if (ret == -1 && PyErr_Occurred())
                goto error;
            if (ret) {
                /* list_del_init(curr): curr.prev.next = nxt; nxt.prev = curr.prev */
                PyObject *prev = node_get(curr, 1);
                if (prev == NULL)
                    goto error;
                if (node_set(prev, 0, nxt) < 0 || node_set(nxt, 1, prev) < 0) {
                    Py_DECREF(prev);
                    goto error;
                }
                Py_DECREF(prev);
                if (node_set(curr, 0, curr) < 0 || node_set(curr, 1, curr) < 0)
                    goto error;
            }
        }
        else {
            PyObject *r, *m, *z;
            m = PyLong_FromLong(mode);
            z = PyLong_FromLong(0);
            if (m == NULL || z == NULL) {
                Py_XDECREF(m);
                Py_XDECREF(z);
                goto error;
            }
            {
                PyObject *cargs[4] = {curr, m, z, key};
                r = PyObject_Vectorcall(func, cargs, 4, NULL);
            }
            Py_DECREF(m);
            Py_DECREF(z);
            if (r == NULL)
                goto error;
            ret = fast_long(r);
            Py_DECREF(r);
            if (ret == -1 && PyErr_Occurred())
                goto error;
        }
        Py_CLEAR(func);
        if (ret < 0)
            break;
        if (ret && (flags & WQ_FLAG_EXCLUSIVE)) {
            nr_exclusive -= 1;
            if (nr_exclusive == 0)
                break;
        }
        Py_DECREF(curr);
        curr = nxt;
        nxt = NULL;
    }
    Py_XDECREF(nxt);
    Py_DECREF(curr);
    Py_DECREF(head);
    return nr_exclusive;
error:
    Py_XDECREF(func);
    Py_XDECREF(nxt);
    Py_XDECREF(curr);
    Py_DECREF(head);
    return -1;
}

/* Does the queue hold an entry a module declared (DEFINE_WAIT...)? */
static int
has_owned_entry(PyObject *wq_head)
{
    PyObject *head = SLOT(wq_head, H_head), *n;
    int guard = 0;
    if (head == NULL || !Py_IS_TYPE(head, ListHeadType))
        return 1;
    for (n = SLOT(head, LH_next); n != head; n = SLOT(n, E_next)) {
        if (n == NULL || !Py_IS_TYPE(n, EntryType) || SLOT(n, E_owner) != Py_None ||
            ++guard > 1000)
            return 1;  /* anything unusual: let Python look */
    }
    return 0;
}

PyDoc_STRVAR(wake_up_doc,
"wake_up(mode, nr_exclusive, key, wq_head) -> exclusive tasks woken\n\n"
"__wake_up() bracketed by the scheduling points of an exported call.");

static PyObject *
wake_up(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *k, *wq_head, *key;
    long mode, nr, woken;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "wake_up() takes 4 arguments");
        return NULL;
    }
    wq_head = args[3];
    key = args[2];
    mode = fast_long(args[0]);
    if (mode == -1 && PyErr_Occurred())
        return NULL;
    nr = fast_long(args[1]);
    if (nr == -1 && PyErr_Occurred())
        return NULL;
    k = running_kernel();
    if (k == NULL)
        return NULL;
    if (point_add(k) < 0)
        goto error;
    if (!Py_IS_TYPE(wq_head, HeadType) || has_owned_entry(wq_head)) {
        /* NULL head (an oops), a C module's queue, or entries a module declared
         * (whose liveness the Python walk checks): the Python __wake_up(). */
        PyObject *m = PyLong_FromLong(mode), *n = PyLong_FromLong(nr), *r;
        if (m == NULL || n == NULL) {
            Py_XDECREF(m);
            Py_XDECREF(n);
            goto error;
        }
        {
            PyObject *cargs[4] = {wq_head, m, n, key};
            r = PyObject_Vectorcall(py_wake, cargs, 4, NULL);
        }
        Py_DECREF(m);
        Py_DECREF(n);
        if (r == NULL)
            goto error;
        woken = fast_long(r);
        Py_DECREF(r);
        if (woken == -1 && PyErr_Occurred())
            goto error;
    }
    else {
        long left = wake_walk(k, wq_head, mode, nr, key);
        if (left == -1 && PyErr_Occurred())
            goto error;
        woken = nr - left;
    }
    if (point_check(k) < 0)
        goto error;
    Py_DECREF(k);
    return PyLong_FromLong(woken);
error:
    Py_DECREF(k);
    return NULL;
}

static int
keep(PyObject **slot, PyObject *v)
{
    Py_INCREF(v);
    Py_XSETREF(*slot, v);
    return 0;
}

/* ---- msleep() -------------------------------------------------------------------- */

#define NSEC_PER_SEC 1000000000LL
#define LVL_BITS 6
#define LVL_CLK_SHIFT 3
#define MAX_SCHEDULE_TIMEOUT 0x7fffffffffffffffLL
#define MAX_JIFFY_OFFSET ((0x7fffffffffffffffLL >> 1) - 1)

static long long
lvl_start(int n)
{
    return ((1LL << LVL_BITS) - 1) << ((n - 1) * LVL_CLK_SHIFT);
}

/* _timer.wheel_fire_jiffy(): the jiffy a timer armed for *expires* fires at. */
static long long
wheel_fire_jiffy(long long expires, long long base_clk, int depth)
{
    long long delta = expires - base_clk;
    int lvl = depth - 1, n, shift;
    if (delta < 0)
        return base_clk;
    for (n = 0; n < depth - 1; n++) {
        if (delta < lvl_start(n + 1)) {
            lvl = n;
            break;
        }
    }
    if (n == depth - 1 && delta >= lvl_start(depth))
        expires = base_clk + lvl_start(depth) - (1LL << ((depth - 1) * LVL_CLK_SHIFT));
    shift = lvl * LVL_CLK_SHIFT;
    return ((expires >> shift) + 1) << shift;
}

/* _time._to_jiffies(n, per_sec, hz): round up to jiffies. */
static long long
to_jiffies(long long n, long long per_sec, long long hz)
{
    if (per_sec % hz == 0) {
        long long unit = per_sec / hz;
        return (n + unit - 1) / unit;
    }
    if (hz % per_sec == 0)
        return n * (hz / per_sec);
    return -((-n * hz) / per_sec - (((-n * hz) % per_sec) < 0 ? 1 : 0));  /* -(-n*hz // per_sec) */
}

/* jiffies = initial_jiffies + now * hz // NSEC_PER_SEC */
static int
read_jiffies(PyObject *k, long long *out)
{
    long long now, hz, ij;
    if (as_ll(slot_get(k, K_now, "now"), &now) < 0 || as_ll(slot_get(k, K_hz, "hz"), &hz) < 0 ||
        as_ll(slot_get(k, K_initial_jiffies, "initial_jiffies"), &ij) < 0)
        return -1;
    if (now < 0)
        return PyErr_SetString(PyExc_ValueError, "negative time"), -1;
    *out = ij + (long long)(((__int128)now * hz) / NSEC_PER_SEC);
    return 0;
}

/*
 * mod_timer(timer, jiffies + timeout) for schedule_timeout(): put the task's
 * sleep timer on the time line (Scheduler.mod_timer + add_event).  Sets
 * *expire; 0, or -1 with an exception.  Not inlined: what a sleeping task's
 * stack holds at the switch is what every sleeping kthread costs in memory.
 */
static __attribute__((noinline)) int
arm_sleep_timer(PyObject *k, PyObject *timer, long long timeout, long long *expire)
{
    PyObject *v, *entry, *r, *seq_obj = NULL, *when_obj = NULL;
    PyObject *args[2];
    long long j, base, fire, when, hz, ij, seq;
    int depth, soft, lt;

    if (read_jiffies(k, &j) < 0 || as_ll(slot_get(k, K_hz, "hz"), &hz) < 0 ||
        as_ll(slot_get(k, K_initial_jiffies, "initial_jiffies"), &ij) < 0)
        return -1;
    *expire = timeout + j;
    v = slot_get(k, K_in_softirq, "in_softirq");
    if (v == NULL || (soft = PyObject_IsTrue(v)) < 0)
        return -1;
    base = soft ? j + 1 : j;
    v = slot_get(k, K_wheel_depth, "wheel_depth");
    if (v == NULL || ((depth = (int)fast_long(v)) == -1 && PyErr_Occurred()))
        return -1;
    fire = wheel_fire_jiffy(*expire, base, depth);
    if (fire <= j)
        fire = j + 1;
    if (slot_steal(timer, TM_expires, PyLong_FromLongLong(*expire)) < 0)
        return -1;
    /* jiffy_time(fire): -(-(fire - ij) * NSEC_PER_SEC // hz) */
    {
        __int128 x = (__int128)(fire - ij) * NSEC_PER_SEC;
        when = (long long)((x + hz - 1) / hz);
    }
    /* add_event() */
    if (as_ll(slot_get(k, K_timer_seq, "timer_seq"), &seq) < 0)
        return -1;
    seq_obj = PyLong_FromLongLong(seq + 1);
    when_obj = PyLong_FromLongLong(when);
    if (seq_obj == NULL || when_obj == NULL)
        goto error;
    slot_set(k, K_timer_seq, seq_obj);
    slot_set(timer, TM_seq, seq_obj);
    slot_set(timer, TM_when, when_obj);
    slot_set(timer, TM_pending, Py_True);
    entry = PyTuple_Pack(3, when_obj, seq_obj, timer);
    if (entry == NULL)
        goto error;
    args[0] = slot_get(k, K_heap, "heap");
    args[1] = entry;
    r = args[0] == NULL ? NULL : PyObject_Vectorcall(heappush, args, 2, NULL);
    Py_DECREF(entry);
    if (r == NULL)
        goto error;
    Py_DECREF(r);
    v = slot_get(k, K_next_event, "next_event");
    if (v == NULL || (lt = num_lt(when_obj, v)) < 0)
        goto error;
    if (lt) {
        slot_set(k, K_next_event, when_obj);
        v = slot_get(k, K_due, "due");
        if (v == NULL || (lt = num_lt(when_obj, v)) < 0)
            goto error;
        if (lt) {
            v = slot_get(k, K_clock_virtual, "clock_virtual");
            if (v == NULL)
                goto error;
            if (PyObject_IsTrue(v))
                slot_set(k, K_due, when_obj);
        }
    }
    Py_DECREF(seq_obj);
    Py_DECREF(when_obj);
    return 0;
error:
    Py_XDECREF(seq_obj);
    Py_XDECREF(when_obj);
    return -1;
}

/* The rare cases of schedule_timeout_core(): the Python schedule_timeout(). */
static __attribute__((noinline)) long long
schedule_timeout_python(PyObject *k, long long timeout)
{
    PyObject *t = PyLong_FromLongLong(timeout), *r;
    long long left;
    if (t == NULL)
        return -1;
    r = call_at_site(k, site_msleep, py_schedule_timeout, &t, 1);
    Py_DECREF(t);
    if (r == NULL)
        return -1;
    left = PyLong_AsLongLong(r);
    Py_DECREF(r);
    return left;
}

/* The task's first timed sleep: its timer, as schedule_timeout() makes it. */
static __attribute__((noinline)) PyObject *
make_sleep_timer(PyObject *task)
{
    PyObject *timer = PyObject_CallFunction((PyObject *)TimerType, "OOs", process_timeout_fn,
                                            task, "process_timeout");
    if (timer == NULL)
        return NULL;
    slot_set(task, T_sleep_timer, timer);
    Py_DECREF(timer);
    return timer;  /* borrowed: the task holds it */
}

/*
 * schedule_timeout(timeout) from msleep(), for 0 <= timeout < MAX with a
 * Python task: mod_timer() + schedule() + del_timer_sync(), as
 * _time.schedule_timeout does.  Returns the jiffies left, or -1 with an
 * exception.
 */
static long long
schedule_timeout_core(PyObject *k, long long timeout)
{
    PyObject *task, *timer;
    long long expire, j, left;

    task = slot_get(k, K_current, "current");
    if (task == NULL)
        return -1;
    timer = Py_IS_TYPE(task, TaskType) ? SLOT(task, T_sleep_timer) : NULL;
    if (timer == Py_None && (timer = make_sleep_timer(task)) == NULL)
        return -1;
    if (timeout < 0 || timeout == MAX_SCHEDULE_TIMEOUT || timer == NULL ||
        !Py_IS_TYPE(timer, TimerType))
        return schedule_timeout_python(k, timeout);
    Py_INCREF(timer);
    if (arm_sleep_timer(k, timer, timeout, &expire) < 0 ||
        sched_block(k, site_timeout, site_timeout_slow) < 0) {
        Py_DECREF(timer);
        return -1;
    }
    slot_set(timer, TM_pending, Py_False);  /* del_timer_sync() */
    Py_DECREF(timer);
    if (read_jiffies(k, &j) < 0)
        return -1;
    left = expire - j;
    return left > 0 ? left : 0;
}

PyDoc_STRVAR(msleep_doc,
"msleep($module, msecs, /)\n--\n\n"
"Sleep at least *msecs* ms, uninterruptibly (``D``): ``msecs_to_jiffies(msecs) + 1``\n"
"jiffies, re-sleeping for the rest after an early wake-up.  (_time.msleep in C.)");

static PyObject *
msleep(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *k, *task, *r;
    unsigned long m;
    long long timeout, hz;

    if (nargs != 1 || !PyLong_CheckExact(args[0])) {
        /* wrong use: the Python msleep() reports it as it would */
        k = slot_get(cur_holder, cur_k, "k");
        if (k == NULL)
            return NULL;
        Py_INCREF(k);
        goto python;
    }
    k = running_kernel();
    if (k == NULL)
        return NULL;
    if (point_add(k) < 0)
        goto error;
    m = PyLong_AsUnsignedLongMask(args[0]) & 0xffffffffUL;
    if (m == (unsigned long)-1 && PyErr_Occurred())
        goto error;
    if (as_ll(slot_get(k, K_hz, "hz"), &hz) < 0)
        goto error;
    timeout = ((m >> 31) ? MAX_JIFFY_OFFSET : to_jiffies((long long)m, 1000, hz)) + 1;
    task = slot_get(k, K_current, "current");
    if (task == NULL)
        goto error;
    Py_INCREF(task);
    while (timeout) {
        PyObject *unint = PyLong_FromLong(2);  /* TASK_UNINTERRUPTIBLE */
        if (PyObject_SetAttrString(task, "state", unint) < 0) {
            Py_DECREF(unint);
            Py_DECREF(task);
            goto error;
        }
        Py_DECREF(unint);
        timeout = schedule_timeout_core(k, timeout);
        if (timeout == -1 && PyErr_Occurred()) {
            Py_DECREF(task);
            goto error;
        }
    }
    Py_DECREF(task);
    if (point_check(k) < 0)
        goto error;
    Py_DECREF(k);
    Py_RETURN_NONE;
python:
    /* the exported call's points around the Python msleep() */
    if (point_add(k) < 0)
        goto error;
    r = PyObject_Vectorcall(py_msleep, args, nargs, NULL);
    if (r == NULL)
        goto error;
    Py_DECREF(r);
    if (point_check(k) < 0)
        goto error;
    Py_DECREF(k);
    Py_RETURN_NONE;
error:
    Py_DECREF(k);
    return NULL;
}

PyDoc_STRVAR(run_due_doc,
"run_due(k)\n\n"
"Scheduler.run_due(): fire every event whose time has come.  Ties are decided\n"
"by an eager policy: with one, the Python reference does it all.");

static PyObject *
run_due(PyObject *mod, PyObject *k)
{
    PyObject *heap, *eager, *top, *item, *timer, *v, *r;
    long long now, when, seq;
    int e;

    if (!PyObject_TypeCheck(k, SchedType))
        return PyObject_CallOneArg(py_run_due, k);
    eager = slot_get(k, K_eager, "eager");
    if (eager == NULL || (e = PyObject_IsTrue(eager)) < 0)
        return NULL;
    if (e)
        return PyObject_CallOneArg(py_run_due, k);
    heap = slot_get(k, K_heap, "heap");
    if (heap == NULL)
        return NULL;
    if (!PyList_CheckExact(heap))
        return PyObject_CallOneArg(py_run_due, k);
    Py_INCREF(heap);
    Py_INCREF(k);
    if (as_ll(slot_get(k, K_now, "now"), &now) < 0)
        goto error;
    while (PyList_GET_SIZE(heap) > 0) {
        top = PyList_GET_ITEM(heap, 0);
        if (!PyTuple_CheckExact(top) || PyTuple_GET_SIZE(top) != 3 ||
            as_ll(PyTuple_GET_ITEM(top, 0), &when) < 0)
            goto error_or_python;
        if (when > now)
            break;
        item = PyObject_CallOneArg(heappop, heap);
        if (item == NULL)
            goto error;
        timer = PyTuple_GET_ITEM(item, 2);
        if (!Py_IS_TYPE(timer, TimerType)) {
            Py_DECREF(item);
            PyErr_SetString(PyExc_TypeError, "run_due(): not a Timer on the time line");
            goto error;
        }
        Py_INCREF(timer);
        if (as_ll(PyTuple_GET_ITEM(item, 1), &seq) < 0) {
            Py_DECREF(item);
            Py_DECREF(timer);
            goto error;
        }
        Py_DECREF(item);
        /* a stale entry (re-armed or deleted since): skip it */
        v = slot_get(timer, TM_seq, "seq");
        if (v == NULL) {
            Py_DECREF(timer);
            goto error;
        }
        {
            long long tseq;
            if (as_ll(v, &tseq) < 0) {
                Py_DECREF(timer);
                goto error;
            }
            int pending;
            v = slot_get(timer, TM_pending, "pending");
            if (v == NULL || (pending = PyObject_IsTrue(v)) < 0) {
                Py_DECREF(timer);
                goto error;
            }
            if (tseq != seq || !pending) {
                Py_DECREF(timer);
                continue;
            }
        }
        /* _fire(timer) */
        slot_set(timer, TM_pending, Py_False);
        slot_set(k, K_in_softirq, Py_True);
        v = slot_get(timer, TM_function, "function");
        if (v == process_timeout_fn) {
            /* process_timeout(): wake the sleeper, inlined */
            PyObject *p = slot_get(timer, TM_data, "data");
            long woke = p == NULL ? -1 : ttwu(k, p, 3 /* TASK_NORMAL */);
            r = (woke == -1 && PyErr_Occurred()) ? NULL : Py_None;
            Py_XINCREF(r);
        }
        else
            r = v == NULL ? NULL : PyObject_CallOneArg(v, timer);
        slot_set(k, K_in_softirq, Py_False);  /* finally: */
        Py_DECREF(timer);
        if (r == NULL)
            goto error;
        Py_DECREF(r);
    }
    /* k.next_event = heap[0][0] if heap else INF */
    if (PyList_GET_SIZE(heap) > 0) {
        top = PyList_GET_ITEM(heap, 0);
        if (!PyTuple_Check(top) || PyTuple_GET_SIZE(top) < 1) {
            PyErr_SetString(PyExc_TypeError, "run_due(): a time-line entry is not a tuple");
            goto error;
        }
        slot_set(k, K_next_event, PyTuple_GET_ITEM(top, 0));
    }
    else
        slot_set(k, K_next_event, inf_obj);
    Py_DECREF(heap);
    Py_DECREF(k);
    Py_RETURN_NONE;
error_or_python:
    if (PyErr_Occurred())
        goto error;
    Py_DECREF(heap);
    r = PyObject_CallOneArg(py_run_due, k);
    Py_DECREF(k);
    return r;
error:
    Py_DECREF(heap);
    Py_DECREF(k);
    return NULL;
}

PyDoc_STRVAR(kthread_should_stop_doc,
"kthread_should_stop($module, /)\n--\n\n"
"True once ``kthread_stop()`` was called on the running kthread.\n"
"(_kthread.kthread_should_stop in C.)");

static PyObject *
kthread_should_stop(PyObject *mod, PyObject *unused)
{
    PyObject *k, *task, *kt, *r;
    long flags;

    k = running_kernel();
    if (k == NULL)
        return NULL;
    if (point_add(k) < 0)
        goto error;
    task = slot_get(k, K_current, "current");
    if (task == NULL)
        goto error;
    kt = Py_IS_TYPE(task, TaskType) ? SLOT(task, T_kthread) : NULL;
    if (kt != NULL && Py_IS_TYPE(kt, KthreadType)) {
        PyObject *f = slot_get(kt, KT_flags, "flags");
        if (f == NULL || ((flags = fast_long(f)) == -1 && PyErr_Occurred()))
            goto error;
        r = PyBool_FromLong(flags & (1L << 1));  /* KTHREAD_SHOULD_STOP */
    }
    else
        r = PyObject_CallNoArgs(py_should_stop);  /* not a kthread: it says so */
    if (r == NULL)
        goto error;
    if (point_check(k) < 0) {
        Py_DECREF(r);
        goto error;
    }
    Py_DECREF(k);
    return r;
error:
    Py_DECREF(k);
    return NULL;
}

PyDoc_STRVAR(setup_misc_doc,
"setup_misc(heappop, Scheduler.run_due, process_timeout, KthreadInfo, kthread_should_stop)\n\n"
"The rest of setup(): timers firing and kthread_should_stop().");

static PyObject *
setup_misc(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyType_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "setup_misc() takes 5 arguments, the 4th a type");
        return NULL;
    }
    if (TimerType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "setup_misc() before setup_time()");
        return NULL;
    }
    keep(&heappop, args[0]);
    keep(&py_run_due, args[1]);
    keep(&process_timeout_fn, args[2]);
    keep((PyObject **)&KthreadType, args[3]);
    keep(&py_should_stop, args[4]);
    if (inf_obj == NULL && (inf_obj = PyFloat_FromDouble(Py_HUGE_VAL)) == NULL)
        return NULL;
    if (member_offset(TaskType, "kthread", &T_kthread) < 0 ||
        member_offset(KthreadType, "flags", &KT_flags) < 0 ||
        member_offset(TimerType, "function", &TM_function) < 0 ||
        member_offset(TimerType, "data", &TM_data) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(setup_time_doc,
"setup_time(Timer, heappush, msleep, schedule_timeout, site, slow_site, msleep_site)\n\n"
"The sleep half of setup(): the timer type, heapq.heappush, the Python msleep()\n"
"and schedule_timeout() (no points), and the sleep_sites of msleep(): asleep in\n"
"C, in the Python schedule(), in the Python schedule_timeout().");

static PyObject *
setup_time(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7 || !PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "setup_time() takes a type and 6 objects");
        return NULL;
    }
    if (SchedType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "setup_time() before setup()");
        return NULL;
    }
    keep((PyObject **)&TimerType, args[0]);
    keep(&heappush, args[1]);
    keep(&py_msleep, args[2]);
    keep(&py_schedule_timeout, args[3]);
    keep(&site_timeout, args[4]);
    keep(&site_timeout_slow, args[5]);
    keep(&site_msleep, args[6]);
    if (member_offset(SchedType, "hz", &K_hz) < 0 ||
        member_offset(SchedType, "initial_jiffies", &K_initial_jiffies) < 0 ||
        member_offset(SchedType, "in_softirq", &K_in_softirq) < 0 ||
        member_offset(SchedType, "wheel_depth", &K_wheel_depth) < 0 ||
        member_offset(SchedType, "heap", &K_heap) < 0 ||
        member_offset(SchedType, "timer_seq", &K_timer_seq) < 0 ||
        member_offset(TaskType, "sleep_timer", &T_sleep_timer) < 0 ||
        member_offset(TimerType, "expires", &TM_expires) < 0 ||
        member_offset(TimerType, "when", &TM_when) < 0 ||
        member_offset(TimerType, "seq", &TM_seq) < 0 ||
        member_offset(TimerType, "pending", &TM_pending) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- setup ---------------------------------------------------------------------- */

PyDoc_STRVAR(setup_doc,
"setup(cur, Scheduler, Task, wait_queue_entry, wait_queue_head, list_head,\n"
"      autoremove_wake_function, prepare_to_wait_event, finish_wait, schedule,\n"
"      __wake_up, GreenletContext, sleep_site)\n\n"
"Hand the accelerator the core's types and its Python fallbacks (once, at import).");

static PyObject *
setup(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    int i;
    if (nargs != 13) {
        PyErr_SetString(PyExc_TypeError, "setup() takes 13 arguments");
        return NULL;
    }
    for (i = 1; i <= 5; i++) {
        if (!PyType_Check(args[i])) {
            PyErr_SetString(PyExc_TypeError, "setup(): arguments 2-6 must be types");
            return NULL;
        }
    }
    keep(&cur_holder, args[0]);
    keep((PyObject **)&SchedType, args[1]);
    keep((PyObject **)&TaskType, args[2]);
    keep((PyObject **)&EntryType, args[3]);
    keep((PyObject **)&HeadType, args[4]);
    keep((PyObject **)&ListHeadType, args[5]);
    keep(&autoremove_fn, args[6]);
    keep(&py_prepare, args[7]);
    keep(&py_finish, args[8]);
    keep(&py_schedule, args[9]);
    keep(&py_wake, args[10]);
    if (!PyType_Check(args[11])) {
        PyErr_SetString(PyExc_TypeError, "setup(): argument 12 must be a type");
        return NULL;
    }
    keep((PyObject **)&GletCtxType, args[11]);
    keep(&sleep_site, args[12]);
    if (greenlet_switch == NULL) {
        void **api = (void **)PyCapsule_Import("greenlet._C_API", 0);
        if (api != NULL)
            greenlet_switch = (PyObject * (*)(PyObject *, PyObject *, PyObject *))api[6];
        else
            PyErr_Clear();  /* g.switch() then */
    }
    if (member_offset(Py_TYPE(cur_holder), "k", &cur_k) < 0 ||
        member_offset(SchedType, "now", &K_now) < 0 ||
        member_offset(SchedType, "cost", &K_cost) < 0 ||
        member_offset(SchedType, "due", &K_due) < 0 ||
        member_offset(SchedType, "current", &K_current) < 0 ||
        member_offset(SchedType, "rq", &K_rq) < 0 ||
        member_offset(SchedType, "eager", &K_eager) < 0 ||
        member_offset(SchedType, "base_cost", &K_base_cost) < 0 ||
        member_offset(SchedType, "slice_ns", &K_slice_ns) < 0 ||
        member_offset(SchedType, "next_event", &K_next_event) < 0 ||
        member_offset(SchedType, "horizon", &K_horizon) < 0 ||
        member_offset(SchedType, "clock_virtual", &K_clock_virtual) < 0 ||
        member_offset(SchedType, "stop_reason", &K_stop_reason) < 0 ||
        member_offset(SchedType, "lockup_thresh_ns", &K_lockup_thresh_ns) < 0 ||
        member_offset(SchedType, "next_tick", &K_next_tick) < 0 ||
        member_offset(TaskType, "nvcsw", &T_nvcsw) < 0 ||
        member_offset(TaskType, "spin_start", &T_spin_start) < 0 ||
        member_offset(TaskType, "slice_end", &T_slice_end) < 0 ||
        member_offset(TaskType, "lockup_report_at", &T_lockup_report_at) < 0 ||
        member_offset(TaskType, "context", &T_context) < 0 ||
        member_offset(TaskType, "doomed", &T_doomed) < 0 ||
        member_offset(TaskType, "sleep_site", &T_sleep_site) < 0 ||
        member_offset(GletCtxType, "glet", &G_glet) < 0 ||
        member_offset(TaskType, "state", &T_state) < 0 ||
        member_offset(TaskType, "tif", &T_tif) < 0 ||
        member_offset(TaskType, "blocked_on", &T_blocked_on) < 0 ||
        member_offset(TaskType, "on_rq", &T_on_rq) < 0 ||
        member_offset(TaskType, "preempt_count", &T_preempt_count) < 0 ||
        member_offset(EntryType, "flags", &E_flags) < 0 ||
        member_offset(EntryType, "private", &E_private) < 0 ||
        member_offset(EntryType, "func", &E_func) < 0 ||
        member_offset(EntryType, "next", &E_next) < 0 ||
        member_offset(EntryType, "prev", &E_prev) < 0 ||
        member_offset(EntryType, "name", &E_name) < 0 ||
        member_offset(EntryType, "owner", &E_owner) < 0 ||
        member_offset(HeadType, "head", &H_head) < 0 ||
        member_offset(ListHeadType, "next", &LH_next) < 0 ||
        member_offset(ListHeadType, "prev", &LH_prev) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL, setup_doc},
    {"___wait_event", (PyCFunction)(void (*)(void))wait_event_loop, METH_FASTCALL, wait_event_loop_doc},
    {"wake_up", (PyCFunction)(void (*)(void))wake_up, METH_FASTCALL, wake_up_doc},
    {"wait_event", (PyCFunction)(void (*)(void))wait_event_macro, METH_FASTCALL, wait_event_macro_doc},
    {"msleep", (PyCFunction)(void (*)(void))msleep, METH_FASTCALL, msleep_doc},
    {"setup_time", (PyCFunction)(void (*)(void))setup_time, METH_FASTCALL, setup_time_doc},
    {"setup_misc", (PyCFunction)(void (*)(void))setup_misc, METH_FASTCALL, setup_misc_doc},
    {"run_due", (PyCFunction)run_due, METH_O, run_due_doc},
    {"kthread_should_stop", (PyCFunction)kthread_should_stop, METH_NOARGS, kthread_should_stop_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "kernsim._core._fastpath",
    "The hot path of wait_event() and wake_up() in C (see _fastpath.c).", -1, methods,
};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_point_slow, "point_slow");
    INTERN(s_try_to_wake_up, "try_to_wake_up");
    INTERN(s_append, "append");
    INTERN(s_popleft, "popleft");
    INTERN(s_appendleft, "appendleft");
    INTERN(s_switch, "switch");
    INTERN(s_resume_doomed, "_resume_doomed");
    INTERN(s_account_ticks, "account_ticks");
    INTERN(s_next, "next");
    INTERN(s_prev, "prev");
    INTERN(s_flags, "flags");
    INTERN(s_private, "private");
    INTERN(s_func, "func");
    INTERN(s_head, "head");
    INTERN(empty_str, "");
    if ((empty_tuple = PyTuple_New(0)) == NULL)
        return NULL;
#undef INTERN
    return PyModule_Create(&moduledef);
}
