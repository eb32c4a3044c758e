"""prepare_to_wait_event: port of the tutorial's fifth numbered listing (seed lines 1476-1569).

The complete module of the tutorial's prepare_to_wait_event example (built
there as kthread.ko): the wake thread only increments ``i`` every second and
never calls ``wake_up``; the wait thread queues itself with
``prepare_to_wait_event(..., TASK_INTERRUPTIBLE)`` (its return value is
ignored) and calls ``schedule()``, so it sleeps until ``kthread_stop`` wakes
it at rmmod time, then prints ``i`` once.
"""

from kernsim.linux import *

MODULE_LICENSE("GPL")
MODULE_AUTHOR("linux usr")
MODULE_DESCRIPTION("Example of prepare_to_wait_event")

wait_thread = None  # static struct task_struct *wait_thread;
wake_thread = None  # static struct task_struct *wake_thread;
wqueue = DECLARE_WAIT_QUEUE_HEAD("wqueue")
# struct wait_queue_entry wait; -- a zero-filled global, never used: the
# DEFINE_WAIT(wait) local of wait_thread_fn shadows it.
wait = wait_queue_entry()
i = 0

# wait_thread_fn - executes when wait_thread is created,
# prints a message and sleeps for 1000ms,
# puts the wq_head in waiting state until wake_up signal is received,
# stops when kthread_stop is called


def wait_thread_fn(data: object) -> int:
    wait = DEFINE_WAIT("wait")
    while not kthread_should_stop():
        prepare_to_wait_event(wqueue, wait, TASK_INTERRUPTIBLE)
        schedule()
        pr_info("wait thread execution i value = %d\n", i)
        msleep(1000)
    finish_wait(wqueue, wait)
    return 0

# wake_thread_fn - executes when wake_thread is created,
# prints a message, increments i value and sleeps for 1000ms,
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
    wake_thread = kthread_run(wake_thread_fn, None, "prepare_to_wait_event wake_thread example")
    if IS_ERR(wake_thread):
        pr_info("error in creating wake thread\n")
    else:
        pr_info("successfully created wake thread\n")
    wait_thread = kthread_run(wait_thread_fn, None, "prepare_to_wait_event wait_thread example")
    if IS_ERR(wait_thread):
        pr_info("error in creating wait thread\n")
    else:
        pr_info("successfully created wait thread\n")

# prepare_to_wait_event_init - calls thread_start,
# executes when module is loaded


def prepare_to_wait_event_init() -> int:
    pr_info("inside kthread init function\n")
    thread_start()
    return 0

# thread_stop - destroys thread and stops execution


def thread_stop() -> None:
    kthread_stop(wake_thread)
    kthread_stop(wait_thread)
    pr_info("destroyed threads and completed tasks\n")

# prepare_to_wait_event_exit - calls thread_stop,
# executes when the module is unloaded


def prepare_to_wait_event_exit() -> None:
    pr_info("inside kthread exit function\n")
    thread_stop()


module_init(prepare_to_wait_event_init)
module_exit(prepare_to_wait_event_exit)
