"""The C headers are derived from the one list of exported symbols."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kernsim._core._cdecl import (
    INCLUDE_DIR,
    c_functions,
    headers_with_blocks,
    missing_headers,
    parse_prototype,
    rendered_header,
)
from conftest import SHARED
from kernsim._core._export import EXPORTS

SEED_C = SHARED / "oracle" / "seed"


def test_every_generated_block_is_current() -> None:
    stale = [h for h, p in headers_with_blocks().items() if rendered_header(p, h) != p.read_text()]
    assert not stale, f"run `python -m kernsim._core._cdecl`: stale blocks in {stale}"


def test_every_header_named_by_a_c_symbol_exists() -> None:
    assert not missing_headers()


def test_prototypes_parse_with_their_parameter_names() -> None:
    p = parse_prototype("struct task_struct *kthread_create_x(int (*threadfn)(void *data), void *data, "
                        "const char namefmt[])")
    assert p.ret == "struct task_struct *"
    assert [q.name for q in p.params] == ["threadfn", "data", "namefmt"]
    assert p.params[0].ctype == "int (*)(void *data)"
    assert p.params[2].ctype == "const char *"
    assert parse_prototype("void schedule(void)").params == ()
    assert parse_prototype("unsigned long msecs_to_jiffies(const unsigned int m)").params[0].ctype \
        == "const unsigned int"


def test_every_c_function_is_declared_by_its_header_and_is_a_python_export() -> None:
    for sym, proto in c_functions():
        assert proto.name == sym.name
        text = (INCLUDE_DIR / sym.header).read_text()
        assert f"extern {proto.declaration()};" in text
        assert EXPORTS[sym.name].obj is sym.obj


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("header", sorted(p.relative_to(INCLUDE_DIR).as_posix()
                                          for p in INCLUDE_DIR.rglob("*.h")))
def test_each_header_compiles_on_its_own(header: str, tmp_path: Path) -> None:
    src = tmp_path / "probe.c"
    src.write_text(f"#include <{header}>\n")
    r = subprocess.run(["gcc", "-fsyntax-only", "-std=gnu11", "-Wall", "-Werror", "-nostdinc",
                        "-isystem", subprocess.check_output(["gcc", "-print-file-name=include"],
                                                            text=True).strip(),
                        f"-I{INCLUDE_DIR}", "-D__KERNEL__", "-DMODULE", str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
