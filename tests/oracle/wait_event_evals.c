#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/wait.h>
#include <linux/delay.h>
MODULE_LICENSE("GPL");
static DECLARE_WAIT_QUEUE_HEAD(wq);
static int evals, flag;
static struct task_struct *waiter, *waker;
static int cond(void) { evals++; return flag >= 3; }
static int waiter_fn(void *d)
{
	long r;
	wait_event(wq, cond());
	pr_info("wait_event: evals=%d after 3 wake-ups\n", evals);
	evals = 0; flag = 0;
	r = wait_event_timeout(wq, cond(), msecs_to_jiffies(5000));
	pr_info("wait_event_timeout: evals=%d ret>0=%d\n", evals, r > 0);
	while (!kthread_should_stop()) msleep(50);
	return 0;
}
static int waker_fn(void *d)
{
	int n;
	for (n = 1; n <= 3; n++) { msleep(100); flag = n; wake_up(&wq); }
	msleep(200);
	for (n = 1; n <= 3; n++) { msleep(100); flag = n; wake_up(&wq); }
	while (!kthread_should_stop()) msleep(50);
	return 0;
}
static int __init m_init(void)
{
	waiter = kthread_run(waiter_fn, NULL, "evals_waiter");
	waker = kthread_run(waker_fn, NULL, "evals_waker");
	return 0;
}
static void __exit m_exit(void) { kthread_stop(waker); kthread_stop(waiter); pr_info("evals done\n"); }
module_init(m_init); module_exit(m_exit);
