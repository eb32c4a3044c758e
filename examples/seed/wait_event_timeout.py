"""wait_event_timeout: port of the tutorial's second numbered listing (seed lines 671-761).

The complete module of the tutorial's wait_event_timeout example (built there
as kthread.ko): a wake thread increments ``i`` and calls ``wake_up(&wqueue)``
every second; a wait thread sleeps in ``wait_event_timeout(wqueue, i > 100,
msecs_to_jiffies(1000))`` -- which, the condition never coming true in
practice, times out after a second -- then prints ``i`` and sleeps a second.
"""

from kernsim.linux import *

MODULE_LICENSE("GPL")
MODULE_AUTHOR("linux usr")
MODULE_DESCRIPTION("Example of wait_event_timeout")

wait_thread = None  # static struct task_struct *wait_thread;
wake_thread = None  # static struct task_struct *wake_thread;
wqueue = DECLARE_WAIT_QUEUE_HEAD("wqueue")
i = 0

# wait_thread_fn - executes when wait_thread is created,
# waits for the event to be completed or until timer gets expired,
# prints a message and sleeps for 1000ms,
# stops when kthread_stop is called


def wait_thread_fn(data: object) -> int:
    while not kthread_should_stop():
        wait_event_timeout(wqueue, lambda: i > 100, msecs_to_jiffies(1000))
        pr_info("wait thread execution i value = %d\n", i)
        msleep(1000)
    return 0

# wake_thread_fn - executes when wake_thread is created,
# prints a message, increments i value and sleeps for 1000ms,
# whenever i value is changed wake_up signal is passed to wait_thread to check for condition,
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
    wake_thread = kthread_run(wake_thread_fn, None, "wait_event_timeout wake_thread example")
    if IS_ERR(wake_thread):
        pr_info("error in creating wake thread\n")
    else:
        pr_info("successfully created wake thread\n")
    wait_thread = kthread_run(wait_thread_fn, None, "wait_event_timeout wait_thread example")
    if IS_ERR(wait_thread):
        pr_info("error in creating wait thread\n")
    else:
        pr_info("successfully created wait thread\n")

# wait_event_timeout - calls thread_start,
# executes when module is loaded


def wait_event_timeout_init() -> int:
    pr_info("inside kthread init function\n")
    thread_start()
    return 0

# thread_stop - destroys thread and stops execution


def thread_stop() -> None:
    kthread_stop(wake_thread)
    kthread_stop(wait_thread)
    pr_info("destroyed threads and completed tasks\n")

# wait_event_timeout_exit - calls thread_stop,
# executes when module is unloaded


def wait_event_timeout_exit() -> None:
    pr_info("inside kthread exit function\n")
    thread_stop()


module_init(wait_event_timeout_init)
module_exit(wait_event_timeout_exit)
