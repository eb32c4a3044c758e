"""prepare_to_wait: port of the tutorial's third numbered listing (seed lines 937-1031).

The complete module of the tutorial's prepare_to_wait example (built there as
kthread.ko): a wake thread increments ``i`` and calls ``wake_up(&wqueue)``
every second; a wait thread queues itself with ``prepare_to_wait(...,
TASK_INTERRUPTIBLE)``, calls ``schedule()`` (no condition is tested), then
prints ``i`` and sleeps a second; ``finish_wait`` runs once, after the loop.
"""

from kernsim.linux import *

MODULE_LICENSE("GPL")
MODULE_AUTHOR("linux usr")
MODULE_DESCRIPTION("Example of prepare_to_wait")

wait_thread = None  # static struct task_struct *wait_thread;
wake_thread = None  # static struct task_struct *wake_thread;
wqueue = DECLARE_WAIT_QUEUE_HEAD("wqueue")
# struct wait_queue_entry wait; -- a zero-filled global, never used: the
# DEFINE_WAIT(wait) local of wait_thread_fn shadows it.
wait = wait_queue_entry()
i = 0

# wait_thread_fn - executes when wait_thread is created,
# puts the thread in waiting state will execute whenever wake_up is called,
# prints a message and sleeps for 1000ms,
# stops when kthread_stop is called


def wait_thread_fn(data: object) -> int:
    wait = DEFINE_WAIT("wait")
    while not kthread_should_stop():
        prepare_to_wait(wqueue, wait, TASK_INTERRUPTIBLE)
        schedule()
        pr_info("wait thread execution i value = %d\n", i)
        msleep(1000)
    finish_wait(wqueue, wait)
    return 0

# wake_thread_fn - executes when wake_thread is created,
# prints a message, increments i and sleeps for 1000ms,
# stops when kthread_stop is called


def wake_thread_fn(data: object) -> int:
    global i
    while not kthread_should_stop():
        pr_info("wake thread execution i value = %d\n", i)
        i += 1
        wake_up(wqueue)
        msleep(1000)
    return 0

# thread_start - creates thread and starts execution


def thread_start() -> None:
    global wake_thread, wait_thread
    wake_thread = kthread_run(wake_thread_fn, None, "prepare_to_wait wake_thread example")
    if IS_ERR(wake_thread):
        pr_info("error in creating wake thread\n")
    else:
        pr_info("successfully created wake thread\n")
    wait_thread = kthread_run(wait_thread_fn, None, "prepare_to_wait wait_thread example")
    if IS_ERR(wait_thread):
        pr_info("error in creating wait thread\n")
    else:
        pr_info("successfully created wait thread\n")

# prepare_to_wait_init - calls thread_start,
# executes when the module is loaded


def prepare_to_wait_init() -> int:
    pr_info("inside kthread init function\n")
    thread_start()
    return 0

# thread_stop - destroys thread and stops execution


def thread_stop() -> None:
    kthread_stop(wake_thread)
    kthread_stop(wait_thread)
    pr_info("destroyed threads and completed tasks\n")

# prepare_to_wait_exit - calls thread_exit,
# executes when the module is unloaded


def prepare_to_wait_exit() -> None:
    pr_info("inside kthread exit function\n")
    thread_stop()


module_init(prepare_to_wait_init)
module_exit(prepare_to_wait_exit)
