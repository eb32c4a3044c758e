"""wait_woken: port of the tutorial's sixth numbered listing (seed lines 1741-1832).

The complete module of the tutorial's wait_woken example (built there as
kthread.ko): the wake thread only increments ``i`` every second; the wait
thread calls ``wait_woken(&wait, TASK_UNINTERRUPTIBLE, msecs_to_jiffies(2000))``
on a DEFINE_WAIT entry that is never queued (and whose wake function is
autoremove_wake_function, not woken_wake_function), so nothing ever sets
WQ_FLAG_WOKEN and each call sleeps its full 2 s; then it prints ``i`` and
sleeps a second.  ``wqueue`` is declared but never used, as in the listing.
"""

from kernsim.linux import *

MODULE_LICENSE("GPL")
MODULE_AUTHOR("linux usr")
MODULE_DESCRIPTION("Example of wait_woken")

wait_thread = None  # static struct task_struct *wait_thread;
wake_thread = None  # static struct task_struct *wake_thread;
wqueue = DECLARE_WAIT_QUEUE_HEAD("wqueue")
# struct wait_queue_entry wait; -- a zero-filled global, never used: the
# DEFINE_WAIT(wait) local of wait_thread_fn shadows it.
wait = wait_queue_entry()
i = 0

# wait_thread_fn - executes when wait_thread is created,
# prints a message and sleeps for 1000ms,
# puts in waiting state until timer gets expire,
# stops when kthread_stop is called


def wait_thread_fn(data: object) -> int:
    wait = DEFINE_WAIT("wait")
    while not kthread_should_stop():
        wait_woken(wait, TASK_UNINTERRUPTIBLE, msecs_to_jiffies(2000))
        pr_info("wait thread execution i value = %d\n", i)
        msleep(1000)
    return 0

# wake_thread_fn - executes when wake_thread is created,
# prints a message increments i and sleeps for 1000ms,
# stops when kthread_stop is called


def wake_thread_fn(data: object) -> int:
    global i
    while not kthread_should_stop():
        pr_info("wake thread execution i value = %d\n", i)
        i += 1
        msleep(1000)
    return 0

# thread_start - creates thread and starts execution


def thread_start() -> None:
    global wake_thread, wait_thread
    wake_thread = kthread_run(wake_thread_fn, None, "wait_woken wake_thread example")
    if IS_ERR(wake_thread):
        pr_info("error in creating wake thread\n")
    else:
        pr_info("successfully created wake thread\n")
    wait_thread = kthread_run(wait_thread_fn, None, "wait_woken wait_thread example")
    if IS_ERR(wait_thread):
        pr_info("error in creating wait thread\n")
    else:
        pr_info("successfully created wait thread\n")

# wait_woken_init - calls thread_start,
# executes when the module is loaded


def wait_woken_init() -> int:
    pr_info("inside kthread init function\n")
    thread_start()
    return 0

# thread_stop - destroys thread and starts execution


def thread_stop() -> None:
    kthread_stop(wake_thread)
    kthread_stop(wait_thread)
    pr_info("destroyed threads and completed tasks\n")

# wait_woken_exit - calls thread_stop,
# executes when the module is unloaded


def wait_woken_exit() -> None:
    pr_info("inside kthread exit function\n")
    thread_stop()


module_init(wait_woken_init)
module_exit(wait_woken_exit)
