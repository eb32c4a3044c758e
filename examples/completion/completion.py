"""completion.py - wait for another thread with a completion, not a flag.

The Python twin of completion.c: the loader thread "loads" three tables,
then complete()s `ready`; init waits for it with a timeout.  At removal the
loader's end is awaited through a second completion, complete_all()ed.
"""
from kernsim.linux import *

MODULE_LICENSE("GPL")
MODULE_AUTHOR("kernsim")
MODULE_DESCRIPTION("Example of completions")

ready = DECLARE_COMPLETION("ready")
finished = DECLARE_COMPLETION("finished")
loader = None


def loader_fn(data):
    for table in range(1, 4):
        msleep(100)
        pr_info("loader: table %d loaded\n", table)
    complete(ready)
    while not kthread_should_stop():
        msleep(50)
    complete_all(finished)
    return 0


def completion_init():
    global loader
    loader = kthread_run(loader_fn, None, "loader")
    if IS_ERR(loader):
        return PTR_ERR(loader)
    left = wait_for_completion_timeout(ready, msecs_to_jiffies(1000))
    pr_info("init: tables ready, %u ms to spare\n", jiffies_to_msecs(left))
    pr_info("init: done=%d\n", completion_done(ready))
    return 0


def completion_exit():
    kthread_stop(loader)
    wait_for_completion(finished)
    pr_info("exit: loader finished, try_wait=%d\n", try_wait_for_completion(finished))


module_init(completion_init)
module_exit(completion_exit)
