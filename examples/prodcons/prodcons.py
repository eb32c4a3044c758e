"""prodcons.py - a bounded buffer between a producer and a consumer thread.

The Python twin of prodcons.c: a ring of 4 slots guarded by a mutex; the
producer sleeps on `not_full` while it is full, the consumer on `not_empty`
while it is empty, and each wakes the other after changing the count.
"""
from kernsim.linux import *

MODULE_LICENSE("GPL")
MODULE_AUTHOR("kernsim")
MODULE_DESCRIPTION("Example of a bounded buffer with two wait queues and a mutex")

SLOTS = 4
ITEMS = 10

ring = [0] * SLOTS
head = tail = count = 0
ring_lock = DEFINE_MUTEX("ring_lock")
not_full = DECLARE_WAIT_QUEUE_HEAD("not_full")
not_empty = DECLARE_WAIT_QUEUE_HEAD("not_empty")
producer = consumer = None


def producer_fn(data):
    global head, count
    for item in range(1, ITEMS + 1):
        wait_event(not_full, lambda: count < SLOTS or kthread_should_stop())
        if kthread_should_stop():
            break
        mutex_lock(ring_lock)
        ring[head] = item
        head = (head + 1) % SLOTS
        count += 1
        pr_info("producer: put %d (%d queued)\n", item, count)
        mutex_unlock(ring_lock)
        wake_up(not_empty)
        msleep(10)
    while not kthread_should_stop():
        msleep(10)
    return 0


def consumer_fn(data):
    global tail, count
    got = 0
    while got < ITEMS:
        wait_event(not_empty, lambda: count > 0 or kthread_should_stop())
        if kthread_should_stop():
            break
        mutex_lock(ring_lock)
        item = ring[tail]
        tail = (tail + 1) % SLOTS
        count -= 1
        pr_info("consumer: took %d (%d queued)\n", item, count)
        mutex_unlock(ring_lock)
        wake_up(not_full)
        got += 1
        msleep(30)  # slower than the producer: the ring fills up
    pr_info("consumer: all %d items\n", got)
    while not kthread_should_stop():
        msleep(10)
    return 0


def prodcons_init():
    global producer, consumer
    producer = kthread_run(producer_fn, None, "producer")
    consumer = kthread_run(consumer_fn, None, "consumer")
    return 0


def prodcons_exit():
    kthread_stop(producer)
    kthread_stop(consumer)
    pr_info("exit: stopped, %d left in the ring\n", count)


module_init(prodcons_init)
module_exit(prodcons_exit)
