"""Module parameters through the Python front door and the command line
(spec §7.4, §7.2, §7.5): module_param() over module globals, values given at
insmod, the kernel's and kmod's messages, modinfo's parm lines, and the
parameters' files at run time."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import REPO, Run, run_file
from kernsim._core._kernel import Kernel, KernelConfig
from kernsim._core._param import module_param_files, module_param_read, module_param_write
from kernsim.cli import main
from kernsim.image import open_image
from kernsim.kmod import insmod, rmmod
from kernsim.modinfo import modinfo

EXAMPLE = REPO / "examples" / "params" / "hello_params.py"

PARAMS = """\
MODULE_LICENSE("GPL")

b = 1
module_param("b", "byte", 0o644)
s = -1
module_param("s", "short", 0o644)
us = 1
module_param("us", "ushort", 0o644)
i = 3
module_param("i", "int", 0o644)
MODULE_PARM_DESC("i", "an int")
u = 4
module_param("u", "uint", 0o644)
l = -5
module_param("l", "long", 0o644)
ul = 6
module_param("ul", "ulong", 0o644)
h = 255
module_param("h", "hexint", 0o644)
name = "world"
module_param("name", "charp", 0o644)
none = None
module_param("none", str, 0o444)
flag = False
module_param("flag", bool, 0o644)
inv = True
module_param("inv", "invbool", 0o644)
count = 0
module_param_named("n", "count", int, 0o644)
arr = [0, 0, 0]
narr = 0
module_param_array("arr", "int", "narr", 0o644)
buf = "abc"
module_param_string("str", "buf", 8, 0o644)

def show():
    pr_info("b=%d s=%d us=%d i=%d u=%u l=%ld ul=%lu h=%#x name=%s none=%s flag=%d inv=%d "
            "n=%d arr=%d,%d,%d narr=%d str=%s\\n", b, s, us, i, u, l, ul, h, name, none, flag,
            inv, count, *arr, narr, buf)

@module_init
def init():
    show()
    return 0

@module_exit
def exit_():
    show()
"""


def write(tmp_path: Path, source: str, name: str = "mod") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text("from kernsim.linux import *\n" + textwrap.dedent(source))
    return path


def run(path: Path, params: str = "", **options: Any) -> Run:
    return run_file(path, params=params, seconds=options.pop("seconds", 1), **options)


def after_taints(r: Run) -> list[str]:
    return r.texts[4:]


def test_defaults_are_the_globals_values(tmp_path: Path) -> None:
    r = run(write(tmp_path, PARAMS))
    assert r.result.exit_code == 0, r.stderr
    assert after_taints(r)[0] == ("b=1 s=-1 us=1 i=3 u=4 l=-5 ul=6 h=0xff name=world none=(null) "
                                  "flag=0 inv=1 n=0 arr=0,0,0 narr=0 str=abc")


def test_values_given_at_insmod_reach_the_globals_before_init(tmp_path: Path) -> None:
    r = run(write(tmp_path, PARAMS),
            'b=0xff s=-32768 us=65535 i=-7 u=0x10 l=-9223372036854775808 ul=18446744073709551615 '
            'h=0x1234 name="hello there" none=x flag inv=y n=011 arr=1,2 str=1234567')
    assert r.result.exit_code == 0, r.stderr
    assert after_taints(r)[0] == (
        "b=255 s=-32768 us=65535 i=-7 u=16 l=-9223372036854775808 ul=18446744073709551615 "
        "h=0x1234 name=hello there none=x flag=1 inv=0 n=9 arr=1,2,0 narr=2 str=1234567")


def test_dashes_and_underscores_are_the_same_in_names(tmp_path: Path) -> None:
    src = 'MODULE_LICENSE("GPL")\nmy_count = 0\nmodule_param("my_count", int, 0)\n' \
          '@module_init\ndef init():\n    pr_info("%d\\n", my_count)\n    return 0\n' \
          '@module_exit\ndef exit_():\n    pass\n'
    r = run(write(tmp_path, src), "my-count=5")
    assert "5" in r.texts


@pytest.mark.parametrize("params, messages, insmod_text", [
    ("i=abc", ["mod: `abc' invalid for parameter `i'"], "Invalid parameters"),
    ("i", ["mod: `' invalid for parameter `i'"], "Invalid parameters"),
    ("i=", ["mod: `' invalid for parameter `i'"], "Invalid parameters"),
    ("i=2147483648", ["mod: `2147483648' invalid for parameter `i'"],
     "Numerical result out of range"),
    ("u=-1", ["mod: `-1' invalid for parameter `u'"], "Invalid parameters"),
    ("flag=maybe", ["mod: `maybe' invalid for parameter `flag'"], "Invalid parameters"),
    ("inv", ["mod: `' invalid for parameter `inv'"], "Invalid parameters"),
    ("arr=1,2,3,4", ["arr: can only take 3 arguments", "mod: `1' invalid for parameter `arr'"],
     "Invalid parameters"),
    ("str=12345678", ["str: string doesn't fit in 7 chars.",
                      "mod: `12345678' too large for parameter `str'"], "No space left on device"),
    # Every bad one is reported; the load fails with the last error.
    ("i=x u=99999999999", ["mod: `x' invalid for parameter `i'",
                           "mod: `99999999999' invalid for parameter `u'"],
     "Numerical result out of range"),
])
def test_bad_values_fail_the_load_with_the_kernels_and_kmods_words(
        tmp_path: Path, params: str, messages: list[str], insmod_text: str) -> None:
    path = write(tmp_path, PARAMS)
    r = run(path, params)
    assert r.result.exit_code == 1 and r.result.outcome == "load-failed"
    assert after_taints(r) == messages          # init never ran
    assert r.stderr == [f"insmod: ERROR: could not insert module {path}: {insmod_text}"]
    assert [x.level for x in r.result.records[4:]] == [3] * len(messages)   # KERN_ERR


def test_unknown_parameters_are_ignored_with_a_warning(tmp_path: Path) -> None:
    r = run(write(tmp_path, PARAMS), "bogus=1 i=9 x.y=2 dyndbg=+p async_probe")
    assert r.result.exit_code == 0 and r.stderr == []
    assert after_taints(r)[:2] == ["mod: unknown parameter 'bogus' ignored",
                                   "mod: unknown parameter 'x' ignored"]
    assert after_taints(r)[2].startswith("b=1 s=-1 us=1 i=9 ")
    assert r.result.records[4].level == 4                                   # KERN_WARNING


def test_parameters_after_a_double_dash_are_ignored(tmp_path: Path) -> None:
    r = run(write(tmp_path, PARAMS), "i=1 -- i=2")
    assert after_taints(r)[0] == "mod: parameters 'i=2' after `--' ignored"
    assert after_taints(r)[1].startswith("b=1 s=-1 us=1 i=1 ")


@pytest.mark.parametrize("source, error", [
    ('count = 1\nmodule_param("cnt", int, 0o644)',
     "NameError: module_param('cnt'): there is no global variable 'cnt' in the module"),
    ('count = 1\nmodule_param(count, int, 0o644)', "TypeError: module_param(1): the parameter is "
                                                    "the name of a global, as a string"),
    ('count = 1.5\nmodule_param("count", int, 0o644)',
     "TypeError: module_param('count'): count is 1.5, not an int that fits a C int"),
    ('count = 1 << 31\nmodule_param("count", "int", 0o644)', "not an int that fits a C int"),
    ('count = -1\nmodule_param("count", "uint", 0o644)', "not an int that fits a C unsigned int"),
    ('flag = 1\nmodule_param("flag", bool, 0o644)', "flag is 1, not a bool"),
    ('name = 3\nmodule_param("name", "charp", 0o644)', "name is 3, not a str or None"),
    ('count = 1\nmodule_param("count", "float", 0o644)',
     "ValueError: module_param('count'): unknown parameter type 'float'"),
    ('count = 1\nmodule_param("count", int, 0o666)', "permissions 0o666 are refused by the "
                                                      "kernel's VERIFY_OCTAL_PERMISSIONS"),
    ('count = 1\nmodule_param("count", int, 0o1644)', "not between 0 and 0o777"),
    ('count = 1\nmodule_param("count", int, 0o044)', "the owner must be able to read"),
    ('count = 1\nmodule_param("count", int, 0o464)', "the owner must be able to write"),
    ('count = 1\nmodule_param("count", int, 644)', "permissions 0o1204 are refused by the "
                                                    "kernel's VERIFY_OCTAL_PERMISSIONS (not between "
                                                    "0 and 0o777: did you mean 0o644?)"),
    ('count = 1\nmodule_param("count", int, 0o644)\nmodule_param("count", int, 0o644)',
     "parameter 'count' is declared twice"),
    ('a = []\nmodule_param_array("a", int, None, 0o644)', "a must be a non-empty list"),
    ('a = [1, "x"]\nmodule_param_array("a", int, None, 0o644)', "a[1] is 'x'"),
    ('a = [1]\nmodule_param_array("a", int, "n", 0o644)', "no global variable 'n'"),
    ('s = "too long"\nmodule_param_string("s", "s", 4, 0o644)',
     "s must be a str shorter than 4 bytes"),
])
def test_a_bad_declaration_fails_the_load_as_a_build_error_would(tmp_path: Path, source: str,
                                                                 error: str) -> None:
    path = write(tmp_path, 'MODULE_LICENSE("GPL")\n' + source + "\n")
    r = run(path)
    assert r.result.outcome == "load-failed"
    assert r.stderr[0].startswith(f"{path}:")
    assert error in r.stderr[0]
    assert r.stderr[1] == f"insmod: ERROR: could not insert module {path}: Invalid module format"


def test_module_param_belongs_at_the_top_level(tmp_path: Path) -> None:
    src = 'MODULE_LICENSE("GPL")\nx = 1\n@module_init\ndef init():\n' \
          '    module_param("x", int, 0)\n    return 0\n'
    r = run(write(tmp_path, src))
    assert any("module_param() belongs at the top level" in t for t in r.texts)


# -- the parameters' files, at run time --------------------------------------------------

class Live:
    """A kernel with a module loaded by insmod, for the tests of sysfs-like access."""

    def __init__(self, path: Path, params: str = "") -> None:
        self.k = Kernel(KernelConfig(hung_task_timeout_secs=0))
        self.image = open_image(str(path))
        self.tty: list[str] = []
        self.command(lambda: insmod(self.k, self.image, path.name, params, self.tty.append))

    def command(self, main: Callable[[], int]) -> None:
        done: list[int] = []
        self.k.spawn_process("cmd", main, tty=self.tty.append, native=self.image.native,
                             on_exit=lambda t: done.append(t.exit_code))
        self.k.run(self.k.now + 2_000_000_000)
        assert done == [0], self.tty

    def rmmod(self) -> list[str]:
        self.command(lambda: rmmod(self.k, self.image.name, self.tty.append))
        texts = [r.text for r in self.k.log_records()]
        self.k.close()
        return texts


def test_parameters_are_readable_and_writable_while_loaded(tmp_path: Path) -> None:
    live = Live(write(tmp_path, PARAMS), "arr=4,5")
    k = live.k
    assert [n for n, _ in module_param_files(k, "mod")] == [
        "b", "s", "us", "i", "u", "l", "ul", "h", "name", "none", "flag", "inv", "n", "arr", "str"]
    read = {n: module_param_read(k, "mod", n) for n, _ in module_param_files(k, "mod")}
    assert read == {"b": "1\n", "s": "-1\n", "us": "1\n", "i": "3\n", "u": "4\n", "l": "-5\n",
                    "ul": "6\n", "h": "0x0000ff\n", "name": "world\n", "none": "(null)\n",
                    "flag": "N\n", "inv": "N\n", "n": "0\n", "arr": "4,5\n", "str": "abc\n"}
    assert module_param_write(k, "mod", "i", "42\n") == 3
    assert module_param_write(k, "mod", "name", "kernsim") == 7
    assert module_param_write(k, "mod", "arr", "7,8,9") == 5
    assert module_param_write(k, "mod", "inv", "n") == 1
    with pytest.raises(OSError) as exc:
        module_param_write(k, "mod", "none", "x")        # 0444
    assert exc.value.strerror == "Permission denied"
    with pytest.raises(OSError) as exc:
        module_param_write(k, "mod", "b", "256")
    assert exc.value.strerror == "Numerical result out of range"
    assert module_param_read(k, "mod", "arr") == "7,8,9\n"
    texts = live.rmmod()
    # The module's exit sees what was written.
    assert texts[-1].startswith("b=1 s=-1 us=1 i=42 ") and "name=kernsim" in texts[-1]
    assert texts[-1].endswith("inv=1 n=0 arr=7,8,9 narr=3 str=abc")
    assert module_param_files(k, "mod") == []


def test_the_example_changes_course_when_count_is_written(tmp_path: Path) -> None:
    live = Live(EXAMPLE, "count=1 name=you")
    module_param_write(live.k, "hello_params", "count", "3\n")
    module_param_write(live.k, "hello_params", "loud", "Y\n")
    live.k.run(live.k.now + 3_000_000_000)
    texts = live.rmmod()
    assert [t for t in texts if "you!" in t] == ["hello, you! (1 of 1)", "HELLO, you! (3 of 3)"]


# -- modinfo of a Python module -----------------------------------------------------------

#: What modinfo printed for each example module before it read .py files
#: statically (captured from the version that ran their bodies): reading
#: them without running them must not change a byte.
GOLDEN_MODINFO = REPO / "tests" / "golden" / "modinfo_examples.json"
MODINFO_VARIANTS = {"plain": {}, "parm": {"field": "parm"}, "null": {"null": True},
                    "license": {"field": "license"}}


@pytest.mark.parametrize("example", sorted(json.loads(GOLDEN_MODINFO.read_text())))
def test_modinfo_of_every_example_module_is_unchanged(example: str) -> None:
    golden = json.loads(GOLDEN_MODINFO.read_text())[example]
    path = REPO / example
    for variant, options in MODINFO_VARIANTS.items():
        out, err = io.StringIO(), io.StringIO()
        assert modinfo([str(path)], out=out, err=err, **options) == 0
        assert err.getvalue() == ""
        assert out.getvalue() == golden[variant].replace("{filename}", str(path)), variant


def test_every_example_module_has_a_golden_modinfo() -> None:
    assert sorted(json.loads(GOLDEN_MODINFO.read_text())) == \
        sorted(str(p.relative_to(REPO)) for p in REPO.glob("examples/*/*.py"))


def test_modinfo_prints_a_python_modules_parm_lines(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 'MODULE_LICENSE("GPL")\nMODULE_AUTHOR("me")\n'
                           'MODULE_DESCRIPTION("d")\n' + PARAMS.split("\n", 1)[1].split("def show")[0])
    assert main(["modinfo", str(path)]) == 0
    out = capsys.readouterr().out
    from kernsim.kbuild import VERMAGIC
    assert out == (f"filename:       {path}\n"
                   "description:    d\n"
                   "author:         me\n"
                   "license:        GPL\n"
                   "depends:        \n"
                   "retpoline:      Y\n"
                   "name:           mod\n"
                   f"vermagic:       {VERMAGIC}\n"
                   "parm:           b:byte\n"
                   "parm:           s:short\n"
                   "parm:           us:ushort\n"
                   "parm:           i:an int (int)\n"
                   "parm:           u:uint\n"
                   "parm:           l:long\n"
                   "parm:           ul:ulong\n"
                   "parm:           h:hexint\n"
                   "parm:           name:charp\n"
                   "parm:           none:charp\n"
                   "parm:           flag:bool\n"
                   "parm:           inv:invbool\n"
                   "parm:           n:int\n"
                   "parm:           arr:array of int\n"
                   "parm:           str:string\n")
    assert main(["modinfo", "-p", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == ["b: (byte)", "s: (short)", "us: (ushort)", "i:an int (int)"]
    assert main(["modinfo", "-F", "parmtype", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["str:string", "arr:array of int"]


def test_modinfo_of_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["modinfo", str(EXAMPLE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "description:    Module parameters: greet NAME COUNT times"
    assert lines[-4:] == ["parm:           count:How many greetings (int)",
                          "parm:           name:Whom to greet (charp)",
                          "parm:           loud:Shout the greetings (bool)",
                          "parm:           values:Up to four numbers to add up (array of int)"]


def test_a_parameter_with_a_description_but_no_type(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    path = write(tmp_path, 'MODULE_LICENSE("GPL")\nMODULE_PARM_DESC("ghost", "no such thing")\n')
    assert modinfo([str(path)], out=out, err=err) == 0
    assert out.getvalue().splitlines()[-1] == "parm:           ghost:no such thing"


def test_modinfo_reads_a_python_module_without_running_it(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """kmod's modinfo reads .modinfo and runs nothing: no print() of the
    module's in the output, no side effect, no wait for a body that never ends
    -- and what the body would have refused is still shown as declared."""
    marker = tmp_path / "ran"
    path = write(tmp_path, f"""\
        print("hello from the module body")
        open({str(marker)!r}, "w").close()
        MODULE_LICENSE("GPL")
        module_param("nothing", int, 0)
        while True:
            pass
        """)
    assert main(["modinfo", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "hello" not in out and err == "" and not marker.exists()
    assert "license:        GPL\n" in out and out.endswith("parm:           nothing:int\n")


def test_modinfo_reads_every_declaration_form(tmp_path: Path) -> None:
    path = tmp_path / "forms.py"
    path.write_text(textwrap.dedent("""\
        import kernsim.linux as linux
        from kernsim.linux import *
        AUTHOR = "me"
        MODULE_LICENSE(license := "GPL") if False else None
        linux.MODULE_LICENSE("Dual BSD/GPL")
        MODULE_AUTHOR(AUTHOR)
        MODULE_DESCRIPTION("two " "parts")
        MODULE_VERSION(value="1.2")
        MODULE_ALIAS("forms-alias")
        MODULE_INFO("staging", "Y")
        module_param_named("n", "count", "uint", S_IRUGO | S_IWUSR)
        module_param("b", bool, 0o644)
        module_param("s", str, 0o444)
        module_param_array_named("a", "arr", "int", None, 0o444)
        module_param_string("buf", "buffer", 16, 0o644)
        MODULE_PARM_DESC(_parm="n", desc="how many")
        def later():
            MODULE_AUTHOR("not at the top level: not a declaration")
        """))
    out, err = io.StringIO(), io.StringIO()
    assert modinfo([str(path)], out=out, err=err) == 0
    assert err.getvalue() == ""
    lines = out.getvalue().splitlines()[1:]
    from kernsim.kbuild import VERMAGIC
    assert lines == ["staging:        Y", "alias:          forms-alias", "version:        1.2",
                     "description:    two parts", "author:         me", "license:        Dual BSD/GPL",
                     "depends:        ", "retpoline:      Y", "name:           forms",
                     f"vermagic:       {VERMAGIC}",
                     # kmod's order: the reverse of first appearance in the section
                     # (which is the source's last to first): n's desc comes last.
                     "parm:           b:bool", "parm:           s:charp", "parm:           a:array of int",
                     "parm:           buf:string", "parm:           n:how many (uint)"]


def test_modinfo_warns_of_a_declaration_it_cannot_read(tmp_path: Path) -> None:
    path = write(tmp_path, 'MODULE_LICENSE("GPL")\nMODULE_AUTHOR(" ".join(["a", "b"]))\n')
    out, err = io.StringIO(), io.StringIO()
    assert modinfo([str(path)], out=out, err=err) == 0
    assert "author" not in out.getvalue() and "license:        GPL" in out.getvalue()
    assert err.getvalue() == (f"modinfo: WARNING: {path}:3: MODULE_AUTHOR(): not a literal "
                              f"argument, not shown\n")


def test_modinfo_of_a_python_module_that_does_not_parse(tmp_path: Path) -> None:
    """One line, as for a .ko that cannot be read; the filename first, as kmod."""
    syntax = tmp_path / "syn.py"
    syntax.write_text("def (:\n")
    out, err = io.StringIO(), io.StringIO()
    assert modinfo([str(syntax)], out=out, err=err) == 1
    assert out.getvalue() == f"filename:       {syntax}\n"
    assert err.getvalue() == "modinfo: ERROR: could not get modinfo from 'syn': Exec format error\n"
    binary = tmp_path / "bin.py"
    binary.write_bytes(b"\xff\xfe\0")
    out, err = io.StringIO(), io.StringIO()
    assert modinfo([str(binary)], out=out, err=err) == 1
    assert err.getvalue() == "modinfo: ERROR: could not get modinfo from 'bin': Exec format error\n"


# -- the command line ---------------------------------------------------------------------

def kernsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kernsim", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def test_kernsim_run_passes_parameters_as_insmod_does() -> None:
    p = kernsim("run", "examples/params/hello_params.py", "count=3", "name=kernsim", "--for", "4",
                "loud", "values=1,2,3")
    assert p.returncode == 0, p.stderr
    lines = [ln.split("] ", 1)[1] for ln in p.stdout.splitlines()[4:]]
    assert lines == ["hello_params: count=3 name=kernsim loud=1, 3 values adding up to 6",
                     "HELLO, kernsim! (1 of 3)", "HELLO, kernsim! (2 of 3)",
                     "HELLO, kernsim! (3 of 3)", "hello_params: goodbye, kernsim"]


def test_kernsim_run_quoting_follows_the_kernel() -> None:
    # The shell's quotes are gone; the kernel's own (inside the argument) group words.
    p = kernsim("run", "examples/params/hello_params.py", 'name="big world"', "count=0")
    assert "hello_params: count=0 name=big world loud=0, 0 values adding up to 0" in p.stdout
    p = kernsim("run", "examples/params/hello_params.py", "name=big world", "count=0")
    assert "hello_params: unknown parameter 'world' ignored" in p.stdout
    assert "name=big loud=0" in p.stdout


def test_kernsim_run_with_a_bad_parameter_exits_1_with_kmods_message() -> None:
    p = kernsim("run", "examples/params/hello_params.py", "count=many")
    assert p.returncode == 1
    assert "] hello_params: `many' invalid for parameter `count'" in p.stdout
    assert p.stderr == ("insmod: ERROR: could not insert module examples/params/hello_params.py: "
                        "Invalid parameters\n")


def test_an_option_after_the_module_is_still_an_option_and_unknown_ones_are_errors() -> None:
    p = kernsim("run", "examples/params/hello_params.py", "count=0", "--frobnicate")
    assert p.returncode == 2
    assert p.stderr.startswith("kernsim: error: unrecognized arguments: --frobnicate")
    p = kernsim("modinfo", "examples/params/hello_params.py", "extra=1")
    assert p.returncode == 1      # modinfo takes files: "extra=1" is not one
    assert "modinfo: ERROR: Module extra=1 not found." in p.stderr


def test_modinfo_dash_p_on_the_command_line() -> None:
    p = kernsim("modinfo", "-p", "examples/params/hello_params.py")
    assert p.returncode == 0
    assert p.stdout.splitlines() == ["count:How many greetings (int)", "name:Whom to greet (charp)",
                                     "loud:Shout the greetings (bool)",
                                     "values:Up to four numbers to add up (array of int)"]
