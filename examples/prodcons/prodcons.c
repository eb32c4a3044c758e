// SPDX-License-Identifier: GPL-2.0
/*
 * prodcons.c - a bounded buffer between a producer and a consumer thread.
 *
 * A ring of 4 slots, guarded by a mutex.  The producer sleeps on `not_full`
 * while the ring is full, the consumer on `not_empty` while it is empty;
 * each wakes the other after changing the count.  The conditions are read
 * without the mutex (as wait_event does), and re-checked under it.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/wait.h>
#include <linux/mutex.h>
#include <linux/delay.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kernsim");
MODULE_DESCRIPTION("Example of a bounded buffer with two wait queues and a mutex");

#define SLOTS 4
#define ITEMS 10

static int ring[SLOTS];
static int head, tail, count;
static DEFINE_MUTEX(ring_lock);
static DECLARE_WAIT_QUEUE_HEAD(not_full);
static DECLARE_WAIT_QUEUE_HEAD(not_empty);
static struct task_struct *producer, *consumer;

static int producer_fn(void *data)
{
	int item;

	for (item = 1; item <= ITEMS; item++) {
		wait_event(not_full, READ_ONCE(count) < SLOTS || kthread_should_stop());
		if (kthread_should_stop())
			break;
		mutex_lock(&ring_lock);
		ring[head] = item;
		head = (head + 1) % SLOTS;
		count++;
		pr_info("producer: put %d (%d queued)\n", item, count);
		mutex_unlock(&ring_lock);
		wake_up(&not_empty);
		msleep(10);
	}
	while (!kthread_should_stop())
		msleep(10);
	return 0;
}

static int consumer_fn(void *data)
{
	int item, got = 0;

	while (got < ITEMS) {
		wait_event(not_empty, READ_ONCE(count) > 0 || kthread_should_stop());
		if (kthread_should_stop())
			break;
		mutex_lock(&ring_lock);
		item = ring[tail];
		tail = (tail + 1) % SLOTS;
		count--;
		pr_info("consumer: took %d (%d queued)\n", item, count);
		mutex_unlock(&ring_lock);
		wake_up(&not_full);
		got++;
		msleep(30);	/* slower than the producer: the ring fills up */
	}
	pr_info("consumer: all %d items\n", got);
	while (!kthread_should_stop())
		msleep(10);
	return 0;
}

static int __init prodcons_init(void)
{
	producer = kthread_run(producer_fn, NULL, "producer");
	consumer = kthread_run(consumer_fn, NULL, "consumer");
	return 0;
}

static void __exit prodcons_exit(void)
{
	kthread_stop(producer);
	kthread_stop(consumer);
	pr_info("exit: stopped, %d left in the ring\n", count);
}

module_init(prodcons_init);
module_exit(prodcons_exit);
