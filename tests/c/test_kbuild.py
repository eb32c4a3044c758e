"""kernsim make: Kbuild parsing, kbuild's output lines and files, gcc's
diagnostics, rebuild-only-when-changed, modpost's .mod.c and srcversion
(scripts/Makefile.build, scripts/mod/modpost.c, scripts/mod/sumversion.c)."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, SHARED
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from kernsim import kbuild
from kernsim._core._kernel import KernelConfig
from kernsim.cli import main
from kernsim.kbuild import BuildError, KbuildError, md4_kernel, parse_kbuild

HAVE_SEED_HEADERS = (REPO / "kernsim" / "include" / "linux" / "kthread.h").exists()
needs_seed_headers = pytest.mark.skipif(not HAVE_SEED_HEADERS,
                                        reason="linux/kthread.h is not there yet")

HELLO = """\
#include <linux/module.h>
#include <linux/init.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("me");
MODULE_DESCRIPTION("hello test");

static int __init hello_init(void)
{
	return 0;
}

static void __exit hello_exit(void)
{
}

module_init(hello_init);
module_exit(hello_exit);
"""


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def module_dir(tmp_path: Path, makefile: str = "obj-m += hello.o\n", **sources: str) -> Path:
    d = tmp_path / "mod"
    write(d, "Makefile", makefile)
    for name, text in (sources or {"hello.c": HELLO}).items():
        write(d, name, text)
    return d


def build(d: Path) -> tuple[list[str], str]:
    """Build ``d``; (kbuild lines, stderr)."""
    lines: list[str] = []
    err = io.StringIO()
    kbuild.build(d, echo=lines.append, stderr=err)
    return lines, err.getvalue()


def later(p: Path, seconds: float = 60) -> None:
    """Make ``p`` newer than everything built so far: file timestamps are
    coarse (a tick), so the rest of the directory is moved into the past
    instead of ``p`` into the future (make would rebuild that forever)."""
    for q in p.parent.iterdir():
        if q != p and q.is_file():
            st = q.stat()
            os.utime(q, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))
    os.utime(p)


# -- Parsing the Kbuild file ------------------------------------------------

def test_obj_m_with_plus_equals_and_colon_equals(tmp_path: Path) -> None:
    write(tmp_path, "Makefile", "obj-m := a.o b.o\nobj-m += c.o\n")
    kb = parse_kbuild(tmp_path / "Makefile")
    assert [m.name for m in kb.modules] == ["a", "b", "c"]
    assert all(not m.composite for m in kb.modules)


def test_colon_equals_replaces_earlier_value(tmp_path: Path) -> None:
    write(tmp_path, "Makefile", "obj-m += a.o\nobj-m := b.o\n")
    assert [m.name for m in parse_kbuild(tmp_path / "Makefile").modules] == ["b"]


def test_multi_source_modules_with_y_and_objs(tmp_path: Path) -> None:
    write(tmp_path, "Makefile", "obj-m += foo.o bar.o\nfoo-y := main.o util.o\nfoo-y += more.o\n"
                                "bar-objs := x.o y.o\n")
    kb = parse_kbuild(tmp_path / "Makefile")
    assert [(m.name, m.objects) for m in kb.modules] == [
        ("foo", ("main.o", "util.o", "more.o")), ("bar", ("x.o", "y.o"))]
    assert all(m.composite for m in kb.modules)


def test_continuation_lines_and_comments(tmp_path: Path) -> None:
    write(tmp_path, "Makefile", "# obj-m += commented.o\n"
                                "obj-m += a.o \\\n"
                                "         b.o   # a comment\n"
                                "ccflags-y += -DX=1 \\\n\t-DY=2\n")
    kb = parse_kbuild(tmp_path / "Makefile")
    assert [m.name for m in kb.modules] == ["a", "b"]
    assert kb.ccflags == ["-DX=1", "-DY=2"]


def test_tutorial_makefile_rules_are_ignored(tmp_path: Path) -> None:
    shutil.copy(REPO / "examples" / "tutorial" / "Makefile", tmp_path / "Makefile")
    kb = parse_kbuild(tmp_path / "Makefile")
    assert [(m.name, m.objects) for m in kb.modules] == [("kthread", ("kthread.o",))]
    assert kb.ccflags == []


def test_two_part_makefile_takes_the_kernelrelease_branch(tmp_path: Path) -> None:
    write(tmp_path, "Makefile", "ifneq ($(KERNELRELEASE),)\nobj-m := inside.o\nelse\n"
                                "obj-m := outside.o\nKDIR ?= /lib/modules/`uname -r`/build\n"
                                "default:\n\t$(MAKE) -C $(KDIR) M=$$PWD\nendif\n")
    assert [m.name for m in parse_kbuild(tmp_path / "Makefile").modules] == ["inside"]


def test_variables_are_expanded(tmp_path: Path) -> None:
    write(tmp_path, "Makefile", "NAME = drv\nobj-m += $(NAME).o\n$(NAME)-y := $(addsuffix .o,a b)\n"
                                "ccflags-y := -I$(src)/include\n")
    kb = parse_kbuild(tmp_path / "Makefile")
    assert [(m.name, m.objects) for m in kb.modules] == [("drv", ("a.o", "b.o"))]
    assert kb.ccflags == [f"-I{tmp_path.resolve()}/include"]


def test_kbuild_file_is_preferred_to_makefile(tmp_path: Path) -> None:
    write(tmp_path, "Makefile", "obj-m += fromMakefile.o\n")
    write(tmp_path, "Kbuild", "obj-m += fromKbuild.o\n")
    assert kbuild.find_kbuild_file(tmp_path).name == "Kbuild"


@pytest.mark.parametrize("text", ["", "all:\n\tmake -C /lib/modules/x M=$(PWD)\n", "obj-y += a.o\n"])
def test_no_obj_m_is_an_error(tmp_path: Path, text: str) -> None:
    write(tmp_path, "Makefile", text)
    with pytest.raises(KbuildError, match=r"no modules to build \(no 'obj-m \+= NAME.o' line\)"):
        parse_kbuild(tmp_path / "Makefile")


# -- Building ---------------------------------------------------------------

def test_build_prints_kbuilds_lines_and_makes_its_files(tmp_path: Path) -> None:
    d = module_dir(tmp_path)
    lines, err = build(d)
    r = d.resolve()
    assert lines == [f"  CC [M]  {r}/hello.o", f"  MODPOST {r}/Module.symvers",
                     f"  CC [M]  {r}/hello.mod.o", f"  LD [M]  {r}/hello.ko"]
    assert err == ""
    for name in ("hello.o", "hello.mod", "hello.mod.c", "hello.mod.o", "hello.ko", "modules.order",
                 "Module.symvers", ".hello.o.cmd"):
        assert (d / name).exists(), name
    assert (d / "modules.order").read_text() == f"{r}/hello.o\n"
    assert (d / "hello.mod").read_text() == f"{r}/hello.o\n"
    assert (d / "Module.symvers").read_text() == ""


def test_the_ko_is_an_elf_relocatable_with_modinfo_and_entry_points(tmp_path: Path) -> None:
    d = module_dir(tmp_path)
    build(d)
    with open(d / "hello.ko", "rb") as f:
        elf = ELFFile(f)
        assert elf["e_type"] == "ET_REL"
        assert elf["e_machine"] == "EM_X86_64"
        names = {s.name for s in elf.iter_sections()}
        assert {".modinfo", ".gnu.linkonce.this_module"} <= names
        symtab = elf.get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        defined = {s.name for s in symtab.iter_symbols() if s["st_shndx"] != "SHN_UNDEF"}
        assert {"init_module", "cleanup_module", "__this_module"} <= defined
        modinfo = elf.get_section_by_name(".modinfo").data().split(b"\0")
    keys = [s.split(b"=")[0].decode() for s in modinfo if s]
    assert keys == ["description", "author", "license", "srcversion", "depends", "retpoline",
                    "name", "vermagic"]


def test_mod_c_is_modposts(tmp_path: Path) -> None:
    d = module_dir(tmp_path)
    build(d)
    text = (d / "hello.mod.c").read_text()
    release = KernelConfig.release
    assert f'MODULE_INFO(vermagic, "{release} SMP preempt mod_unload modversions ");' in text
    assert "MODULE_INFO(name, KBUILD_MODNAME);" in text
    assert '__visible struct module __this_module\n__section(".gnu.linkonce.this_module") = {\n' \
           "\t.name = KBUILD_MODNAME,\n\t.init = init_module,\n" in text
    assert "\t.exit = cleanup_module,\n" in text
    assert 'MODULE_INFO(retpoline, "Y");' in text
    assert 'MODULE_INFO(depends, "");' in text
    assert re.search(r'MODULE_INFO\(srcversion, "[0-9A-F]{23}"\);\n\Z', text)


def test_a_module_without_exit_gets_no_exit_pointer(tmp_path: Path) -> None:
    src = HELLO.replace("module_exit(hello_exit);\n", "").replace(
        "static void __exit hello_exit(void)\n{\n}\n", "")
    d = module_dir(tmp_path, **{"hello.c": src})
    build(d)
    text = (d / "hello.mod.c").read_text()
    assert ".init = init_module" in text and "cleanup_module" not in text


def test_multi_source_module_links_its_parts(tmp_path: Path) -> None:
    main_c = HELLO.replace("return 0;", "return helper();").replace(
        "MODULE_LICENSE", "int helper(void);\nMODULE_LICENSE")
    d = module_dir(tmp_path, "obj-m += drv.o\ndrv-y := main.o helper.o\n",
                   **{"main.c": main_c, "helper.c": "int helper(void);\nint helper(void) { return 0; }\n"})
    lines, err = build(d)
    r = d.resolve()
    assert lines == [f"  CC [M]  {r}/main.o", f"  CC [M]  {r}/helper.o", f"  LD [M]  {r}/drv.o",
                     f"  MODPOST {r}/Module.symvers", f"  CC [M]  {r}/drv.mod.o",
                     f"  LD [M]  {r}/drv.ko"], err
    assert (d / "drv.mod").read_text() == f"{r}/main.o\n{r}/helper.o\n"
    with open(d / "drv.ko", "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        defined = {s.name for s in symtab.iter_symbols() if s["st_shndx"] != "SHN_UNDEF"}
    assert {"helper", "init_module"} <= defined


def test_ccflags_y_reaches_the_compiler(tmp_path: Path) -> None:
    src = "#if ANSWER != 42\n#error ANSWER is not 42\n#endif\n" + HELLO
    d = module_dir(tmp_path, "obj-m += hello.o\nccflags-y += -DANSWER=42\n", **{"hello.c": src})
    lines, err = build(d)
    assert err == "" and lines[-1].endswith("hello.ko")


def test_kernel_macros_are_defined(tmp_path: Path) -> None:
    src = ("#if !defined(__KERNEL__) || !defined(MODULE)\n#error not a kernel module build\n#endif\n"
           "_Static_assert(__builtin_strcmp(KBUILD_MODNAME, \"my_mod\") == 0, \"modname\");\n" + HELLO)
    d = module_dir(tmp_path, "obj-m += my-mod.o\n", **{"my-mod.c": src})
    lines, err = build(d)
    assert err == "", err
    assert (d / "my-mod.ko").exists()


def test_an_undeclared_function_is_gccs_error_and_make_fails(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    src = HELLO.replace("return 0;", "return undeclared_fn();")
    d = module_dir(tmp_path, **{"hello.c": src})
    with pytest.raises(BuildError) as exc:
        build(d)
    assert exc.value.status == 2
    assert str(exc.value) == f"make[2]: *** [scripts/Makefile.build:243: {d.resolve()}/hello.o] Error 1"
    assert main(["make", "-C", str(d)]) == 2
    out, err = capsys.readouterr()
    assert out == f"  CC [M]  {d.resolve()}/hello.o\n"
    assert re.search(rf"^{re.escape(str(d.resolve()))}/hello.c:\d+:\d+: error: implicit declaration "
                     r"of function .undeclared_fn. \[-Werror=implicit-function-declaration\]$", err, re.M)
    assert err.rstrip().endswith("hello.o] Error 1")
    assert not (d / "hello.o").exists() and not (d / "hello.ko").exists()


def test_stdio_h_is_not_there_as_in_the_kernel(tmp_path: Path) -> None:
    d = module_dir(tmp_path, **{"hello.c": "#include <stdio.h>\n" + HELLO})
    err = io.StringIO()
    with pytest.raises(BuildError):
        kbuild.build(d, echo=lambda s: None, stderr=err)
    assert re.search(r"hello.c:1:10: fatal error: stdio.h: No such file or directory", err.getvalue())


def test_floating_point_is_refused_as_in_the_kernel(tmp_path: Path) -> None:
    src = HELLO.replace("return 0;", "return (int)(half(3.0) * 2);").replace(
        "MODULE_LICENSE", "static double half(double x) { return x / 2; }\nMODULE_LICENSE")
    d = module_dir(tmp_path, **{"hello.c": src})
    with pytest.raises(BuildError):
        build(d)


def test_a_missing_license_is_modposts_error(tmp_path: Path) -> None:
    d = module_dir(tmp_path, **{"hello.c": HELLO.replace('MODULE_LICENSE("GPL");\n', "")})
    err = io.StringIO()
    with pytest.raises(BuildError, match=r"Makefile.modpost:\d+: .*/Module.symvers\] Error 1"):
        kbuild.build(d, echo=lambda s: None, stderr=err)
    assert err.getvalue() == f"ERROR: modpost: missing MODULE_LICENSE() in {d.resolve()}/hello.o\n"


def test_a_missing_source_is_makes_no_rule(tmp_path: Path) -> None:
    d = module_dir(tmp_path, "obj-m += nothere.o\n")
    with pytest.raises(BuildError, match=r"No rule to make target '.*/nothere.o'"):
        build(d)


# -- Rebuild only what changed ---------------------------------------------

def test_nothing_changed_prints_nothing(tmp_path: Path) -> None:
    d = module_dir(tmp_path)
    build(d)
    ko = (d / "hello.ko").stat().st_mtime_ns
    assert build(d) == ([], "")
    assert (d / "hello.ko").stat().st_mtime_ns == ko


def test_a_changed_header_rebuilds(tmp_path: Path) -> None:
    d = module_dir(tmp_path, **{"hello.c": '#include "local.h"\n' + HELLO,
                                "local.h": "#define LOCAL 1\n"})
    build(d)
    later(d / "local.h")
    lines, _ = build(d)
    assert lines[0] == f"  CC [M]  {d.resolve()}/hello.o"
    assert lines[-1] == f"  LD [M]  {d.resolve()}/hello.ko"
    assert build(d) == ([], "")


def test_changed_flags_rebuild(tmp_path: Path) -> None:
    d = module_dir(tmp_path)
    build(d)
    write(d, "Makefile", "obj-m += hello.o\nccflags-y += -DSOMETHING\n")
    lines, _ = build(d)
    assert lines[0] == f"  CC [M]  {d.resolve()}/hello.o"


def test_a_failed_compile_is_retried(tmp_path: Path) -> None:
    d = module_dir(tmp_path)
    build(d)
    write(d, "hello.c", HELLO + "syntax error here\n")
    later(d / "hello.c")
    with pytest.raises(BuildError):
        build(d)
    with pytest.raises(BuildError):
        build(d)


# -- srcversion (scripts/mod/sumversion.c) ---------------------------------

@pytest.mark.parametrize("data,digest", [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
     "e33b4ddc9c38f2199c3e7b164fcc0536"),
])
def test_md4_is_rfc_1320_with_little_endian_words(data: bytes, digest: str) -> None:
    h = md4_kernel(data, word_order="little")
    assert b"".join(x.to_bytes(4, "little") for x in h).hex() == digest


def test_kernel_md4_reads_words_big_endian() -> None:
    assert md4_kernel(b"abcd") != md4_kernel(b"abcd", word_order="little")


def srcversion_of(d: Path) -> str:
    return re.search(r'srcversion, "(\w+)"', (d / "hello.mod.c").read_text()).group(1)


def test_srcversion_ignores_whitespace_and_comments_but_not_code(tmp_path: Path) -> None:
    d = module_dir(tmp_path, **{"hello.c": '#include "local.h"\n' + HELLO,
                                "local.h": "#define LOCAL 1\n"})
    build(d)
    first = srcversion_of(d)
    assert re.fullmatch(r"[0-9A-F]{23}", first)
    write(d, "hello.c", '#include "local.h"\n/* a comment */\n\n' + HELLO.replace("\t", "    "))
    later(d / "hello.c")
    build(d)
    assert srcversion_of(d) == first
    write(d, "local.h", "#define LOCAL 2\n")
    later(d / "local.h")
    build(d)
    second = srcversion_of(d)
    assert second != first
    write(d, "hello.c", '#include "local.h"\n' + HELLO.replace('"me"', '"you"'))
    later(d / "hello.c")
    build(d)
    assert srcversion_of(d) not in (first, second)


def test_srcversion_is_sumversions_digest_of_the_stripped_source(tmp_path: Path) -> None:
    d = module_dir(tmp_path, **{"hello.c": HELLO})
    build(d)
    # HELLO has no comments: parse_file() keeps everything but the blanks
    # outside string literals ("hello test" keeps its space).
    parts = re.split(r'("[^"]*")', HELLO)
    stripped = "".join(p if i % 2 else re.sub(r"\s", "", p) for i, p in enumerate(parts))
    assert '"hello test"' in stripped and "\n" not in stripped
    h = md4_kernel(stripped.encode())
    expected = "".join(x.to_bytes(4, "little").hex().upper() for x in h)[:23]
    assert srcversion_of(d) == expected


# -- clean, FILE.c, the command line ---------------------------------------

def test_clean_removes_what_make_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = module_dir(tmp_path)
    build(d)
    assert main(["make", "-C", str(d), "clean"]) == 0
    assert capsys.readouterr().out == f"  CLEAN   {d.resolve()}/Module.symvers\n"
    assert sorted(p.name for p in d.iterdir()) == ["Makefile", "hello.c"]


def test_make_file_c_builds_file_ko_next_to_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "solo", "solo.c", HELLO)
    assert main(["make", str(src)]) == 0
    r = src.parent.resolve()
    assert capsys.readouterr().out.splitlines() == [
        f"  CC [M]  {r}/solo.o", f"  MODPOST {r}/Module.symvers", f"  CC [M]  {r}/solo.mod.o",
        f"  LD [M]  {r}/solo.ko"]
    assert (r / "solo.ko").exists()


def test_the_tutorials_command_line_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    d = module_dir(tmp_path)
    monkeypatch.chdir(d)
    assert main(["make", "-C", "/lib/modules/6.7.9/build", f"M={d}", "modules"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"  LD [M]  {d.resolve()}/hello.ko"


@pytest.mark.parametrize("setup,args,message", [
    (None, ["-C", "{d}/nothere"], r"nothere: No such file or directory"),
    ("empty", ["-C", "{d}"], r"no Kbuild or Makefile here"),
    ("no-obj-m", ["-C", "{d}"], r"no modules to build"),
    ("module", ["-C", "{d}", "install"], r"no rule to make target 'install'"),
    (None, ["{d}/missing.c"], r"missing.c: No such file or directory"),
])
def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            setup: str | None, args: list[str], message: str) -> None:
    if setup == "empty":
        (tmp_path / "x").touch()
    elif setup == "no-obj-m":
        write(tmp_path, "Makefile", "all:\n\techo hi\n")
    elif setup == "module":
        write(tmp_path, "Makefile", "obj-m += hello.o\n")
    assert main(["make", *(a.format(d=tmp_path) for a in args)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("kernsim: error: ")
    assert re.search(message, err)


# -- The tutorial's modules ------------------------------------------------

TUTORIAL_MODINFO_KEYS = ["filename", "description", "author", "license", "srcversion", "depends",
                         "retpoline", "name", "vermagic"]


@needs_seed_headers
def test_the_seed_wait_event_listing_builds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = SHARED / "oracle" / "seed" / "wait_event.c"
    shutil.copy(src, tmp_path / "wait_event.c")
    assert main(["make", str(tmp_path / "wait_event.c")]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["modinfo", str(tmp_path / "wait_event.ko")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(":", 1)[0] for ln in lines] == TUTORIAL_MODINFO_KEYS
    assert lines[1:4] == ["description:    Example of wait_event", "author:         linux usr",
                          "license:        GPL"]
    assert lines[-1] == f"vermagic:       {KernelConfig.release} SMP preempt mod_unload modversions "


@needs_seed_headers
def test_the_tutorial_directory_builds_kthread_ko(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "kthread_examples"
    shutil.copytree(REPO / "examples" / "tutorial", d)
    assert main(["make", "-C", "/lib/modules/6.7.9/build", f"M={d}"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.splitlines() == [
        f"  CC [M]  {d}/kthread.o", f"  MODPOST {d}/Module.symvers", f"  CC [M]  {d}/kthread.mod.o",
        f"  LD [M]  {d}/kthread.ko"]
    assert main(["modinfo", str(d / "kthread.ko")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(":", 1)[0] for ln in lines] == TUTORIAL_MODINFO_KEYS
    assert lines[0] == f"filename:       {d}/kthread.ko"
    assert lines[7] == "name:           kthread"


@needs_seed_headers
def test_all_six_seed_listings_build_from_examples_seed(tmp_path: Path) -> None:
    d = tmp_path / "seed"
    d.mkdir()
    for f in (REPO / "examples" / "seed").iterdir():
        if f.suffix == ".c" or f.name == "Makefile":
            shutil.copy(f, d / f.name)
    lines, err = build(d)
    assert err == "", err
    names = ["wait_event", "wait_event_timeout", "prepare_to_wait", "prepare_to_wait_exclusive",
             "prepare_to_wait_event", "wait_woken"]
    assert [ln for ln in lines if ln.startswith("  LD")] == [f"  LD [M]  {d}/{n}.ko" for n in names]


def test_examples_are_the_listings_byte_for_byte() -> None:
    for src in (SHARED / "oracle" / "seed").glob("*.c"):
        assert (REPO / "examples" / "seed" / src.name).read_bytes() == src.read_bytes(), src.name
    assert (REPO / "examples" / "tutorial" / "kthread.c").read_bytes() == \
        (SHARED / "oracle" / "seed" / "wait_event.c").read_bytes()
    tutorial = (SHARED / "seed" / "wait-event-apis-tutorial.txt").read_text().splitlines()
    start = tutorial.index("1obj-m += kthread.o")
    listing = [re.sub(r"^\d+", "", ln) for ln in tutorial[start:start + 7]]
    assert (REPO / "examples" / "tutorial" / "Makefile").read_text().splitlines() == listing
