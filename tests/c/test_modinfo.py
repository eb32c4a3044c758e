"""kernsim modinfo and read_ko: kmod's format and field order, and kmod's
(and the kernel's) answers for files that are not valid modules
(kmod tools/modinfo.c, libkmod/libkmod-elf.c, kernel/module/main.c)."""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kernsim import kbuild
from kernsim._core._kernel import KernelConfig
from kernsim.cli import main
from kernsim.modinfo import KoError, format_field_line, load_ko, read_ko

SOURCE = """\
#include <linux/module.h>
#include <linux/init.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("Linux Usr");
MODULE_DESCRIPTION("Example of wait_event");
MODULE_VERSION("1.2");

static int __init kthread_init(void)
{
	return 0;
}

static void __exit kthread_exit(void)
{
}

module_init(kthread_init);
module_exit(kthread_exit);
"""

VERMAGIC = f"{KernelConfig.release} SMP preempt mod_unload modversions "


@pytest.fixture(scope="module")
def ko(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ko")
    (d / "kthread.c").write_text(SOURCE)
    kbuild.build_file(d / "kthread.c", echo=lambda s: None)
    return d / "kthread.ko"


def modinfo(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["modinfo", *args])
    out, err = capsys.readouterr()
    return code, out, err


def copy_as(src: Path, dst: Path, data: bytes | None = None) -> Path:
    if data is None:
        shutil.copy(src, dst)
    else:
        dst.write_bytes(data)
    return dst


def test_modinfo_prints_kmods_layout(ko: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = modinfo(capsys, str(ko))
    assert (code, err) == (0, "")
    srcversion = read_ko(ko).get("srcversion")
    assert out == (f"filename:       {ko}\n"
                   "version:        1.2\n"
                   "description:    Example of wait_event\n"
                   "author:         Linux Usr\n"
                   "license:        GPL\n"
                   f"srcversion:     {srcversion}\n"
                   "depends:        \n"
                   "retpoline:      Y\n"
                   "name:           kthread\n"
                   f"vermagic:       {VERMAGIC}\n")


def test_filename_is_absolute(ko: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ko.parent)
    code, out, _ = modinfo(capsys, "kthread.ko")
    assert out.splitlines()[0] == f"filename:       {ko}"


def test_field_order_is_section_order(ko: Path) -> None:
    keys = [k for k, _ in read_ko(ko).fields]
    assert keys == ["version", "description", "author", "license", "srcversion", "depends",
                    "retpoline", "name", "vermagic"]


def test_field_option_prints_values_only(ko: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert modinfo(capsys, "-F", "author", str(ko)) == (0, "Linux Usr\n", "")
    assert modinfo(capsys, "--field", "vermagic", str(ko)) == (0, VERMAGIC + "\n", "")
    assert modinfo(capsys, "-F", "filename", str(ko)) == (0, f"{ko}\n", "")
    assert modinfo(capsys, "-l", str(ko)) == (0, "GPL\n", "")
    assert modinfo(capsys, "-F", "nosuchfield", str(ko)) == (0, "", "")


def test_null_separator(ko: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = modinfo(capsys, "-0", str(ko))
    records = out.split("\0")
    assert records[0] == f"filename:       {ko}"
    assert records[1:4] == ["version=1.2", "description=Example of wait_event", "author=Linux Usr"]
    assert out.endswith("\0") and "\n" not in out


@pytest.mark.parametrize("key,line", [
    ("name", "name:           x\n"),
    ("a" * 15, "a" * 15 + ":x\n"),
    ("a" * 17, "a" * 17 + ":  x\n"),     # printf's negative width pads too
])
def test_key_padding_is_kmods_printf(key: str, line: str) -> None:
    assert format_field_line(key, "x") == line


def test_read_ko_reports_entry_points_and_elf_facts(ko: Path) -> None:
    info = read_ko(ko)
    assert (info.has_init, info.has_cleanup, info.has_this_module) == (True, True, True)
    assert (info.elfclass, info.little_endian, info.e_type, info.e_machine) == (64, True, 1, 62)
    assert info.name == "kthread" and info.get("license") == "GPL"
    info.check_loadable()
    assert load_ko(ko).filename == str(ko)


def test_init_is_optional(tmp_path: Path) -> None:
    src = SOURCE.replace("module_init(kthread_init);\n", "").replace(
        "static int __init kthread_init(void)\n{\n\treturn 0;\n}\n", "")
    (tmp_path / "noinit.c").write_text(src)
    kbuild.build_file(tmp_path / "noinit.c", echo=lambda s: None)
    info = load_ko(tmp_path / "noinit.ko")
    assert (info.has_init, info.has_cleanup) == (False, True)


# -- Files that are not valid modules --------------------------------------

def bad(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    return modinfo(capsys, str(path))


def test_random_bytes_are_exec_format_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = copy_as(tmp_path, tmp_path / "junk.ko", os.urandom(4000).replace(b"\x7f", b"\0"))
    code, out, err = bad(capsys, p)
    assert code == 1
    assert out == f"filename:       {p}\n"     # kmod prints it before opening the file
    assert err == "modinfo: ERROR: could not get modinfo from 'junk': Exec format error\n"
    with pytest.raises(KoError) as exc:
        read_ko(p)
    assert exc.value.errno == errno.ENOEXEC


def test_a_truncated_ko_is_invalid_argument(ko: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = ko.read_bytes()
    for n in (40, 1000, len(data) - 100):
        p = copy_as(ko, tmp_path / f"cut-{n}.ko", data[:n])
        code, out, err = bad(capsys, p)
        assert code == 1
        assert err == f"modinfo: ERROR: could not get modinfo from 'cut_{n}': Invalid argument\n"


def test_a_bad_elf_class_is_invalid_argument(ko: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(ko.read_bytes())
    data[4] = 7
    p = copy_as(ko, tmp_path / "cls.ko", bytes(data))
    assert bad(capsys, p)[2] == "modinfo: ERROR: could not get modinfo from 'cls': Invalid argument\n"


def test_an_elf_without_modinfo_is_no_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain.c").write_text("int f(void) { return 1; }\n")
    subprocess.run(["gcc", "-c", "-o", str(tmp_path / "plain.ko"), str(tmp_path / "plain.c")], check=True)
    code, out, err = bad(capsys, tmp_path / "plain.ko")
    assert code == 1
    assert err == "modinfo: ERROR: could not get modinfo from 'plain': No data available\n"
    with pytest.raises(KoError) as exc:
        load_ko(tmp_path / "plain.ko")
    assert exc.value.errno == errno.ENOEXEC
    assert exc.value.insmod_message("plain.ko") == "could not insert module plain.ko: Invalid module format"


def test_another_machine_has_modinfo_but_cannot_be_loaded(ko: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(ko.read_bytes())
    data[18:20] = (183).to_bytes(2, "little")    # EM_AARCH64
    p = copy_as(ko, tmp_path / "arm.ko", bytes(data))
    code, out, err = bad(capsys, p)
    assert (code, err) == (0, "")                 # kmod does not check the machine
    assert "name:           kthread\n" in out
    with pytest.raises(KoError) as exc:
        load_ko(p)
    assert exc.value.errno == errno.ENOEXEC
    assert exc.value.insmod_message("./arm.ko") == "could not insert module ./arm.ko: Invalid module format"


def test_a_32_bit_object_cannot_be_loaded(tmp_path: Path) -> None:
    (tmp_path / "m32.c").write_text('static const char l[] __attribute__((used, section(".modinfo")))'
                                    ' = "license=GPL";\n')
    p = subprocess.run(["gcc", "-m32", "-c", "-o", str(tmp_path / "m32.ko"), str(tmp_path / "m32.c")],
                       capture_output=True)
    if p.returncode != 0:
        pytest.skip("gcc -m32 is not available")
    info = read_ko(tmp_path / "m32.ko")
    assert info.elfclass == 32 and info.fields == (("license", "GPL"),)
    with pytest.raises(KoError) as exc:
        info.check_loadable()
    assert exc.value.errno == errno.ENOEXEC


def test_a_vermagic_mismatch_is_refused_with_the_kernels_message(ko: Path) -> None:
    with pytest.raises(KoError) as exc:
        load_ko(ko, vermagic="6.1.0 SMP mod_unload ")
    assert exc.value.dmesg == f"kthread: version magic '{VERMAGIC}' should be '6.1.0 SMP mod_unload '"


def test_a_missing_or_non_ko_file_is_not_found(ko: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert modinfo(capsys, str(tmp_path / "nothere.ko")) == (
        1, "", f"modinfo: ERROR: Module {tmp_path}/nothere.ko not found.\n")
    obj = ko.with_suffix(".o")
    assert modinfo(capsys, str(obj)) == (1, "", f"modinfo: ERROR: Module {obj} not found.\n")
    with pytest.raises(KoError) as exc:
        load_ko(tmp_path / "nothere.ko")
    assert exc.value.insmod_message("nothere.ko") == \
        "could not load module nothere.ko: No such file or directory"


def test_a_bad_file_among_good_ones(ko: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = copy_as(ko, tmp_path / "e.ko", b"")
    code, out, err = modinfo(capsys, str(p), str(ko))
    assert code == 1
    assert out.count("filename:") == 2 and "name:           kthread" in out
    assert err == "modinfo: ERROR: could not get modinfo from 'e': Exec format error\n"


def test_library_modinfo_writes_to_the_given_streams(ko: Path) -> None:
    from kernsim.modinfo import modinfo as run
    out, err = io.StringIO(), io.StringIO()
    assert run([str(ko)], field="name", out=out, err=err) == 0
    assert (out.getvalue(), err.getvalue()) == ("kthread\n", "")


SEED_NAMES = ["wait_event", "wait_event_timeout", "prepare_to_wait", "prepare_to_wait_exclusive",
              "prepare_to_wait_event", "wait_woken"]


@pytest.fixture(scope="module")
def seed_kos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tutorial's six listings, built unmodified with their Makefile."""
    from conftest import SEED

    d = tmp_path_factory.mktemp("seed")
    for name in SEED_NAMES:
        shutil.copy(SEED / f"{name}.c", d)
    shutil.copy(SEED / "Makefile", d)
    return {p.stem: p for p in kbuild.build(d, echo=lambda line: None).modules}


@pytest.mark.parametrize("name", SEED_NAMES)
def test_modinfo_of_the_seed_modules(capsys: pytest.CaptureFixture[str], seed_kos: dict[str, Path],
                                     name: str) -> None:
    code, out, err = modinfo(capsys, str(seed_kos[name]))
    assert code == 0 and err == ""
    lines = out.splitlines()
    # kmod's order for a module without MODULE_VERSION: the .modinfo section's
    # order (the source's MODULE_* last to first), then modpost's fields.
    assert [ln.split(":")[0] for ln in lines] == [
        "filename", "description", "author", "license", "srcversion", "depends", "retpoline",
        "name", "vermagic"]
    assert lines[0] == f"filename:       {seed_kos[name]}"
    assert lines[1] == f"description:    Example of {name}"
    assert lines[2] == "author:         linux usr"
    assert lines[3] == "license:        GPL"
    srcversion = lines[4].split()[1]
    assert len(srcversion) == 23 and srcversion == srcversion.upper()
    assert lines[5:] == ["depends:        ", "retpoline:      Y", f"name:           {name}",
                         f"vermagic:       {VERMAGIC}"]
    # srcversion is a checksum of the sources: the same file, the same value.
    code, again, _ = modinfo(capsys, "-F", "srcversion", str(seed_kos[name]))
    assert again.strip() == srcversion
