"""Module parameters through the C front door (spec §7.4, §7.5): linux/
moduleparam.h's __param entries and .modinfo strings, values given at insmod
written into the module's own memory, the same messages and modinfo lines as
the Python twin, build errors where the kernel's build fails, and the
parameters' files at run time over C memory."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, run_file
from kernsim import kbuild
from kernsim._core._param import module_param_read, module_param_write
from kernsim.cli import main
from kernsim.cmodule.runtime import runtime
from test_params import PARAMS, Live, after_taints

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")

C_PARAMS = r"""
#include <linux/module.h>
#include <linux/kernel.h>

MODULE_LICENSE("GPL");

static unsigned char b = 1;
module_param(b, byte, 0644);
static short s = -1;
module_param(s, short, 0644);
static unsigned short us = 1;
module_param(us, ushort, 0644);
static int i = 3;
module_param(i, int, 0644);
MODULE_PARM_DESC(i, "an int");
static unsigned int u = 4;
module_param(u, uint, 0644);
static long l = -5;
module_param(l, long, 0644);
static unsigned long ul = 6;
module_param(ul, ulong, 0644);
static unsigned int h = 255;
module_param(h, hexint, 0644);
static char *name = "world";
module_param(name, charp, 0644);
static char *none;
module_param(none, charp, 0444);
static bool flag;
module_param(flag, bool, 0644);
static bool inv = true;
module_param(inv, invbool, 0644);
static int count;
module_param_named(n, count, int, 0644);
static int arr[3];
static unsigned int narr;
module_param_array(arr, int, &narr, 0644);
static char buf[8] = "abc";
module_param_string(str, buf, sizeof(buf), 0644);

static void show(void)
{
	pr_info("b=%d s=%d us=%d i=%d u=%u l=%ld ul=%lu h=%#x name=%s none=%s flag=%d inv=%d "
		"n=%d arr=%d,%d,%d narr=%d str=%s\n", b, s, us, i, u, l, ul, h, name, none, flag,
		inv, count, arr[0], arr[1], arr[2], narr, buf);
}

static int __init init(void)
{
	show();
	return 0;
}

static void __exit exit_(void)
{
	show();
}

module_init(init);
module_exit(exit_);
"""

ALL = ('b=0xff s=-32768 us=65535 i=-7 u=0x10 l=-9223372036854775808 ul=18446744073709551615 '
       'h=0x1234 name="hello there" none=x flag inv=y n=011 arr=1,2 str=1234567')


def build(tmp_path: Path, source: str, name: str = "mod") -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text(textwrap.dedent(source))
    return kbuild.build_file(src, echo=lambda line: None).modules[0]


@pytest.fixture(scope="module")
def ko(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("cparams"), C_PARAMS)


@pytest.fixture(scope="module")
def py(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pyparams") / "mod.py"
    path.write_text("from kernsim.linux import *\n" + PARAMS)
    return path


@pytest.mark.parametrize("params", [
    "", ALL, "i=abc", "i", "i=2147483648", "u=-1", "flag=maybe", "inv", "arr=1,2,3,4",
    "arr=5,x", "str=12345678", "name=" + "x" * 1025, "i=x u=99999999999",
    "bogus=1 i=9 x.y=2 dyndbg=+p async_probe", "i=1 -- i=2", '"name=a b" s=1\tus=2',
])
def test_the_c_module_and_its_python_twin_say_the_same(ko: Path, py: Path, params: str) -> None:
    c = run_file(ko, params=params, seconds=1)
    p = run_file(py, params=params, seconds=1)
    assert c.lines == p.lines
    assert c.result.exit_code == p.result.exit_code
    assert [ln.replace(str(ko), "X") for ln in c.stderr] == \
        [ln.replace(str(py), "X") for ln in p.stderr]


def test_values_reach_the_modules_memory(ko: Path) -> None:
    r = run_file(ko, params=ALL, seconds=1)
    assert r.result.exit_code == 0, r.stderr
    assert after_taints(r) == [
        "b=255 s=-32768 us=65535 i=-7 u=16 l=-9223372036854775808 ul=18446744073709551615 "
        "h=0x1234 name=hello there none=x flag=1 inv=0 n=9 arr=1,2,0 narr=2 str=1234567"] * 2


def test_a_failed_load_says_invalid_parameters(ko: Path) -> None:
    r = run_file(ko, params="arr=1,2,3,4", seconds=1)
    assert r.result.outcome == "load-failed"
    assert after_taints(r) == ["arr: can only take 3 arguments", "mod: `1' invalid for parameter `arr'"]
    assert r.stderr == [f"insmod: ERROR: could not insert module {ko}: Invalid parameters"]


def test_modinfo_prints_the_parm_lines(ko: Path, py: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["modinfo", str(ko)]) == 0
    c_out = capsys.readouterr().out.splitlines()
    assert main(["modinfo", str(py)]) == 0
    py_out = capsys.readouterr().out.splitlines()
    parms = [ln for ln in c_out if ln.startswith("parm:")]
    assert parms == [ln for ln in py_out if ln.startswith("parm:")]
    assert parms[3] == "parm:           i:an int (int)"
    assert parms[-2:] == ["parm:           arr:array of int", "parm:           str:string"]
    assert c_out[-len(parms) - 1].startswith("vermagic:")      # parameters come last
    assert main(["modinfo", "-F", "parmtype", str(ko)]) == 0
    # The .modinfo section holds them last to first, as GCC emits a file's strings.
    assert capsys.readouterr().out.splitlines()[:3] == ["str:string", "arr:array of int", "n:int"]


def test_the_parameters_files_are_the_modules_memory(ko: Path) -> None:
    live = Live(ko, "arr=4,5")
    k = live.k
    read = {n: module_param_read(k, "mod", n) for n in ("b", "h", "name", "none", "flag", "inv",
                                                         "arr", "str")}
    assert read == {"b": "1\n", "h": "0x0000ff\n", "name": "world\n", "none": "(null)\n",
                    "flag": "N\n", "inv": "N\n", "arr": "4,5\n", "str": "abc\n"}
    assert module_param_write(k, "mod", "i", "42\n") == 3
    assert module_param_write(k, "mod", "name", "kernsim") == 7
    assert module_param_write(k, "mod", "arr", "7,8,9") == 5
    assert module_param_write(k, "mod", "str", "xyz") == 3
    with pytest.raises(OSError) as exc:
        module_param_write(k, "mod", "none", "x")
    assert exc.value.strerror == "Permission denied"
    with pytest.raises(OSError) as exc:
        module_param_write(k, "mod", "str", "12345678")
    assert exc.value.strerror == "No space left on device"
    texts = live.rmmod()
    assert texts[-1] == ("b=1 s=-1 us=1 i=42 u=4 l=-5 ul=6 h=0xff name=kernsim none=(null) flag=0 "
                         "inv=1 n=0 arr=7,8,9 narr=3 str=xyz")


def test_module_code_may_call_the_kernels_param_ops(tmp_path: Path) -> None:
    ko = build(tmp_path, r"""
        #include <linux/module.h>
        MODULE_LICENSE("GPL");
        static int level = 1;
        module_param(level, int, 0644);
        static int __init init(void)
        {
            struct kernel_param kp = { .name = "level", .ops = &param_ops_int, .arg = &level };
            char buf[32];
            int ret = param_ops_int.set("0x20", &kp);
            int len = param_ops_int.get(buf, &kp);
            pr_info("set %d level %d get %d '%s' bad %d flags %u/%u\n", ret, level, len, buf,
                    param_ops_int.set("junk", &kp), param_ops_int.flags, param_ops_bool.flags);
            return 0;
        }
        static void __exit exit_(void) { }
        module_init(init); module_exit(exit_);
    """)
    r = run_file(ko, seconds=1)
    assert "set 0 level 32 get 3 '32\n' bad -22 flags 0/1" in r.texts


def test_a_module_with_parameters_and_no_init_or_exit(tmp_path: Path) -> None:
    ko = build(tmp_path, r"""
        #include <linux/module.h>
        MODULE_LICENSE("GPL");
        static int quiet = 1;
        module_param(quiet, int, 0444);
    """)
    live = Live(ko, "quiet=7")
    assert module_param_read(live.k, "mod", "quiet") == "7\n"
    live.rmmod()


def test_parameters_with_ops_of_the_modules_own_are_refused(tmp_path: Path) -> None:
    ko = build(tmp_path, r"""
        #include <linux/module.h>
        MODULE_LICENSE("GPL");
        static int mine_set(const char *val, const struct kernel_param *kp) { return 0; }
        static const struct kernel_param_ops mine = { .set = mine_set };
        static int x;
        module_param_cb(x, &mine, &x, 0644);
        static int __init init(void) { return 0; }
        static void __exit exit_(void) { }
        module_init(init); module_exit(exit_);
    """)
    r = run_file(ko, seconds=1)
    assert r.result.outcome == "load-failed"
    assert r.stderr[0] == ("kernsim: mod: parameter 'x' uses kernel_param_ops of its own "
                           "(module_param_cb): kernsim only provides the kernel's param_ops_TYPE")
    assert r.stderr[1] == f"insmod: ERROR: could not insert module {ko}: Invalid module format"


@pytest.mark.parametrize("decl, message", [
    # param_check_TYPE: the variable must have the type's C type.
    ("static long x; module_param(x, int, 0644);", "incompatible-pointer-types"),
    ("static int x; module_param(x, bool, 0644);", "incompatible-pointer-types"),
    ("static const char *x; module_param(x, charp, 0644);", "incompatible-pointer-types"),
    # VERIFY_OCTAL_PERMISSIONS
    ("static int x; module_param(x, int, 0666);", "negative width in bit-field"),
    ("static int x; module_param(x, int, 0464);", "negative width in bit-field"),
    ("static int x; module_param(x, int, 01000);", "negative width in bit-field"),
    # no such type
    ("static int x; module_param(x, float, 0644);", "‘param_ops_float’ undeclared"),
])
def test_what_the_kernels_build_refuses_kbuild_refuses(tmp_path: Path, decl: str, message: str,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "bad.c"
    src.write_text('#include <linux/module.h>\nMODULE_LICENSE("GPL");\n' + decl + "\n")
    with pytest.raises(kbuild.BuildError):
        kbuild.build_file(src, echo=lambda line: None)
    assert message in capfd.readouterr().err


def test_the_parameter_structures_have_the_compilers_layout(tmp_path: Path) -> None:
    from kernsim._core._cdecl import INCLUDE_DIR

    probe = tmp_path / "probe.c"
    probe.write_text(textwrap.dedent("""
        #include <linux/module.h>
        #define P(t, f) (int)__builtin_offsetof(t, f)
        int layout[] = {
            sizeof(struct kernel_param), P(struct kernel_param, ops), P(struct kernel_param, perm),
            P(struct kernel_param, level), P(struct kernel_param, flags), P(struct kernel_param, arg),
            sizeof(struct kernel_param_ops), P(struct kernel_param_ops, get),
            sizeof(struct kparam_array), P(struct kparam_array, num), P(struct kparam_array, ops),
            P(struct kparam_array, elem), sizeof(struct kparam_string), P(struct kparam_string, string),
        };
    """))
    gcc_inc = subprocess.check_output(["gcc", "-print-file-name=include"], text=True).strip()
    subprocess.run(["gcc", "-c", "-nostdinc", "-isystem", gcc_inc, f"-I{INCLUDE_DIR}", "-D__KERNEL__",
                    "-DMODULE", "-o", str(tmp_path / "probe.o"), str(probe)], check=True)
    from elftools.elf.elffile import ELFFile

    with open(tmp_path / "probe.o", "rb") as f:
        data = ELFFile(f).get_section_by_name(".data").data()
    got = [int.from_bytes(data[i:i + 4], "little") for i in range(0, 56, 4)]
    ffi = runtime().ffi
    o, z = ffi.offsetof, ffi.sizeof
    want = [z("struct kernel_param"), o("struct kernel_param", "ops"), o("struct kernel_param", "perm"),
            o("struct kernel_param", "level"), o("struct kernel_param", "flags"),
            o("struct kernel_param", "arg"), z("struct kernel_param_ops"),
            o("struct kernel_param_ops", "get"), z("struct kparam_array"),
            o("struct kparam_array", "num"), o("struct kparam_array", "ops"),
            o("struct kparam_array", "elem"), z("struct kparam_string"),
            o("struct kparam_string", "string")]
    assert got == want


def test_the_example_and_its_twin(tmp_path: Path) -> None:
    for f in ("hello_params.c", "Makefile"):
        shutil.copy(REPO / "examples" / "params" / f, tmp_path)
    ko = kbuild.build(tmp_path, echo=lambda line: None).modules[0]
    args = "count=3 name=kernsim loud values=1,2,3"
    c = run_file(ko, params=args, seconds=4)
    p = run_file(REPO / "examples" / "params" / "hello_params.py", params=args, seconds=4)
    assert c.lines == p.lines and c.result.exit_code == 0
    assert c.lines[4:] == [
        "[    1.000001] hello_params: count=3 name=kernsim loud=1, 3 values adding up to 6",
        "[    1.000005] HELLO, kernsim! (1 of 3)",
        "[    2.016002] HELLO, kernsim! (2 of 3)",
        "[    3.040002] HELLO, kernsim! (3 of 3)",
        "[    5.072002] hello_params: goodbye, kernsim",
    ]
