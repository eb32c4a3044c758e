"""signal.py - an interruptible wait, ended by a signal.

The Python twin of signal.c: a kthread ignores signals unless it
allow_signal()s them.  The listener waits interruptibly for a condition that
never comes; the poker sends it SIGUSR1, which interrupts the wait
(-ERESTARTSYS) until the listener takes the signal off its queue.
"""
from kernsim.linux import *

MODULE_LICENSE("GPL")
MODULE_AUTHOR("kernsim")
MODULE_DESCRIPTION("Example of an interruptible wait and a signal")

never = DECLARE_WAIT_QUEUE_HEAD("never")
listener = poker = None


def listener_fn(data):
    allow_signal(SIGUSR1)
    ret = wait_event_interruptible(never, lambda: 0)
    pr_info("listener: wait returned %d, signal pending %d\n", ret, signal_pending(current))
    pr_info("listener: took signal %d\n", kernel_dequeue_signal())
    pr_info("listener: slept %lu ms short\n", msleep_interruptible(200))
    while not kthread_should_stop():
        msleep(10)
    return 0


def poker_fn(data):
    msleep(100)
    pr_info("poker: sending SIGUSR1\n")
    send_sig(SIGUSR1, listener, 0)
    msleep(50)
    pr_info("poker: sending SIGUSR1 again\n")
    send_sig(SIGUSR1, listener, 0)
    while not kthread_should_stop():
        msleep(10)
    return 0


def signal_init():
    global listener, poker
    listener = kthread_run(listener_fn, None, "listener")
    poker = kthread_run(poker_fn, None, "poker")
    return 0


def signal_exit():
    kthread_stop(poker)
    kthread_stop(listener)
    pr_info("exit: both stopped\n")


module_init(signal_init)
module_exit(signal_exit)
