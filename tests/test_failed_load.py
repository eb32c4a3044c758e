"""What a module's threads do when its load fails, as on a real kernel.

An init that dies in an oops leaves the module "Loading" with its threads
running on (and rmmod refused); an init that returns an error frees the
module, and a thread it left running faults when it next runs.
"""

from __future__ import annotations

from conftest import Run


TICKER = """
t = None
def fn(data):
    while not kthread_should_stop():
        pr_info("tick\\n")
        msleep(1000)
    return 0
def my_init():
    global t
    t = kthread_run(fn, None, "ticker")
    {end_of_init}
def my_exit():
    kthread_stop(t)
module_init(my_init)
module_exit(my_exit)
"""


def test_an_init_oops_leaves_the_module_loading_and_its_threads_running(run_source) -> None:
    run: Run = run_source(TICKER.format(end_of_init='raise RuntimeError("boom")'), name="oopsy",
                          seconds=3)
    assert "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI" in run.texts
    assert run.stderr[0] == "Segmentation fault"
    assert run.texts.count("tick") == 3  # at 1, 2.016 and 3.040 s: the thread runs on
    assert run.stderr[1] == "rmmod: ERROR: Module oopsy is in use"
    assert run.result.outcome == "load-failed" and run.result.exit_code == 1


def test_a_thread_left_by_a_failed_init_faults_when_it_runs(run_source) -> None:
    run: Run = run_source(TICKER.format(end_of_init="return -ENOMEM"), name="leaky")
    assert run.stderr[0] == "insmod: ERROR: could not insert module " + run.stderr[0].split()[-4] \
        + " Cannot allocate memory"
    assert run.stderr[1].startswith("kernsim: warning: module leaky failed to load while threads")
    assert "tick" not in run.texts  # its code was freed before it ever ran
    assert any(t.startswith("BUG: unable to handle page fault for address: ") for t in run.texts)
    assert "Oops: 0010 [#1] PREEMPT SMP NOPTI" in run.texts
    assert any("which was removed (its init failed without stopping it)" in t for t in run.texts)
    assert run.result.exit_code == 1
