"""Module parameters: greet NAME, COUNT times, one second apart (the twin of
hello_params.c).

    kernsim run hello_params.py count=3 name=kernsim loud values=1,2,3
    kernsim modinfo hello_params.py
"""
from kernsim.linux import *

MODULE_LICENSE("GPL")
MODULE_AUTHOR("kernsim")
MODULE_DESCRIPTION("Module parameters: greet NAME COUNT times")

count = 2
module_param("count", "int", 0o644)
MODULE_PARM_DESC("count", "How many greetings")

name = "world"
module_param("name", "charp", 0o444)
MODULE_PARM_DESC("name", "Whom to greet")

loud = False
module_param("loud", "bool", 0o644)
MODULE_PARM_DESC("loud", "Shout the greetings")

values = [0, 0, 0, 0]
nvalues = 0
module_param_array("values", "int", "nvalues", 0o444)
MODULE_PARM_DESC("values", "Up to four numbers to add up")

greeter = None


def greeter_fn(data):
    i = 0
    while not kthread_should_stop():
        # count and loud may change under us: they are writable in sysfs.
        if i < count:
            pr_info("%s, %s! (%d of %d)\n", "HELLO" if loud else "hello", name, i + 1, count)
        i += 1
        msleep(1000)
    return 0


def hello_params_init():
    global greeter
    pr_info("hello_params: count=%d name=%s loud=%d, %u values adding up to %d\n",
            count, name, loud, nvalues, sum(values[:nvalues]))
    greeter = kthread_run(greeter_fn, None, "greeter")
    if IS_ERR(greeter):
        return PTR_ERR(greeter)
    return 0


def hello_params_exit():
    kthread_stop(greeter)
    pr_info("hello_params: goodbye, %s\n", name)


module_init(hello_params_init)
module_exit(hello_params_exit)
