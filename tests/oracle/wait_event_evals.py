"""Python twin of wait_event_evals.c: how often wait_event evaluates its condition.

The real 6.1 kernel's answer is in wait_event_evals.dmesg (from ../shared/oracle).
"""

from kernsim.linux import *

MODULE_LICENSE("GPL")

wq = DECLARE_WAIT_QUEUE_HEAD("wq")
evals = 0
flag = 0
waiter = waker = None


def cond():
    global evals
    evals += 1
    return flag >= 3


def waiter_fn(d):
    global evals, flag
    wait_event(wq, cond)
    pr_info("wait_event: evals=%d after 3 wake-ups\n", evals)
    evals = 0
    flag = 0
    r = wait_event_timeout(wq, cond, msecs_to_jiffies(5000))
    pr_info("wait_event_timeout: evals=%d ret>0=%d\n", evals, r > 0)
    while not kthread_should_stop():
        msleep(50)
    return 0


def waker_fn(d):
    global flag
    for n in range(1, 4):
        msleep(100)
        flag = n
        wake_up(wq)
    msleep(200)
    for n in range(1, 4):
        msleep(100)
        flag = n
        wake_up(wq)
    while not kthread_should_stop():
        msleep(50)
    return 0


def m_init():
    global waiter, waker
    waiter = kthread_run(waiter_fn, None, "evals_waiter")
    waker = kthread_run(waker_fn, None, "evals_waker")
    return 0


def m_exit():
    kthread_stop(waker)
    kthread_stop(waiter)
    pr_info("evals done\n")


module_init(m_init)
module_exit(m_exit)
