"""``python -m acrsync.build``: requirement selection, trimming, and the built packages themselves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from acrsync import build

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
PYPROJECT = """
[project]
name = "x"
dependencies = [
    "tablestore==6.4.8",  # a comment
    "wcmatch==12.0.1",
    "typer==0.29.2",
    "click==8.5.1",
    "rich==15.0.0",
    "structlog==26.1.0",
]

[project.optional-dependencies]
dev = ["pytest==9.2.0"]
"""
# Untagged extensions allowed: tablestore's native codec, imported in try/except ImportError with a
# pure-Python fallback (the import probe proves tablestore imports on 3.10 with them present).
UNTAGGED_SO_ALLOWED = frozenset({"tablestore/ots_sdk/ots_sdk.so", "tablestore/native/native_plainbuffer.so"})
SO_TAG = re.compile(r"\.(cpython-310-x86_64-linux-gnu|abi3)\.so$")


def test_runtime_requirements_drop_cli_only_pins() -> None:
    assert build.runtime_requirements(PYPROJECT) == [
        "tablestore==6.4.8",
        "wcmatch==12.0.1",
        "structlog==26.1.0",
    ]


def test_markers_are_evaluated_for_python_310_not_for_the_build_machine() -> None:
    # GIVEN pins with markers (pip would evaluate them for the interpreter running it)
    text = PYPROJECT.replace(
        '"wcmatch==12.0.1",',
        "\"wcmatch==11.1; python_version < '3.11'\", \"wcmatch==12.0.1; python_version >= '3.11'\",",
    )
    # WHEN the runtime requirements are chosen
    requirements = build.runtime_requirements(text)
    # THEN the 3.10 one is kept without its marker and the 3.11 one dropped
    assert requirements == ["tablestore==6.4.8", "wcmatch==11.1", "structlog==26.1.0"]


def test_dependencies_whose_markers_hold_on_310_are_found_missing(tmp_path: Path) -> None:
    # GIVEN aiohttp installed by pip on 3.11, which skipped its `python_version < "3.11"` dependency
    meta = tmp_path / "aiohttp-3.14.5.dist-info" / "METADATA"
    meta.parent.mkdir()
    meta.write_text(
        'Name: aiohttp\nRequires-Dist: async-timeout<6.0,>=4.0; python_version < "3.11"\n'
        'Requires-Dist: yarl>=1.17\nRequires-Dist: brotli; extra == "speedups"\n'
    )
    (tmp_path / "yarl-1.25.1.dist-info").mkdir()
    # WHEN the installed tree is checked THEN async-timeout is missing; extras and installed ones are not
    assert build.missing_requirements(tmp_path) == ["async-timeout<6.0,>=4.0"]


def test_the_real_pyproject_yields_pins_for_every_runtime_dependency() -> None:
    requirements = build.runtime_requirements((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    names = {re.split(r"[=;<>]", r)[0].lower() for r in requirements}
    assert {"tablestore", "alibabacloud-cr20181201", "structlog", "google-re2", "pyyaml"} <= names
    assert not names & {"typer", "click", "rich"}
    assert all("==" in r for r in requirements)


def test_pip_targets_cpython_310_and_manylinux_up_to_glibc_2_28() -> None:
    cmd = build.pip_command(Path("/t"), ["x==1"], Path("/c"))
    platforms = {cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--platform"}
    assert {"manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"} <= platforms
    assert "manylinux_2_31_x86_64" not in platforms
    assert cmd[cmd.index("--python-version") + 1] == "3.10"
    assert "--only-binary=:all:" in cmd
    assert "--no-compile" in cmd


def test_trim_removes_bytecode_stubs_scripts_and_package_tests_but_keeps_metadata_and_our_code(
    tmp_path: Path,
) -> None:
    # GIVEN an installed tree
    files = [
        "pkg/__init__.py", "pkg/core.py", "pkg/core.pyi", "pkg/__pycache__/core.cpython-311.pyc",
        "pkg/tests/test_core.py", "pkg-1.0.dist-info/RECORD", "bin/pkg-cli", "tests/conftest.py",
        "acrsync/__init__.py", "acrsync/__pycache__/x.pyc",
    ]  # fmt: skip
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x" * 10)
    # WHEN it is trimmed
    removed = build.trim(tmp_path)
    # THEN only what never runs on FC is gone
    left = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert left == {
        "pkg/__init__.py", "pkg/core.py", "pkg-1.0.dist-info/RECORD", "tests/conftest.py",
        "acrsync/__init__.py", "acrsync/__pycache__/x.pyc",
    }  # fmt: skip
    assert removed == 40


def loadable_on_fc(tag: str) -> bool:
    """Whether FC's CPython 3.10 (x86_64, glibc 2.28) can load a wheel tagged ``python-abi-platform``."""
    python, abi, platform = tag.split("-")
    if abi == "abi3":  # the stable ABI: any cp3X with X <= 10
        python_ok = re.fullmatch(r"cp3(\d+)", python) is not None and int(python[3:]) <= 10
    elif abi == "none":
        python_ok = python in ("py3", "py2.py3", "py310", "cp310")
    else:
        python_ok = python == abi == "cp310"
    glibc = re.match(r"manylinux_2_(\d+)_x86_64$", platform)
    platform_ok = platform == "any" or platform in (
        "manylinux1_x86_64",
        "manylinux2010_x86_64",
        "manylinux2014_x86_64",
    )
    return python_ok and (platform_ok or (glibc is not None and int(glibc.group(1)) <= build.GLIBC_MINOR))


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("cp310-cp310-manylinux_2_17_x86_64", True),
        ("cp39-abi3-manylinux_2_28_x86_64", True),
        ("py3-none-any", True),
        ("cp311-cp311-manylinux_2_17_x86_64", False),
        ("cp310-cp310-manylinux_2_31_x86_64", False),
        ("cp310-cp310-musllinux_1_2_x86_64", False),
        ("cp310-cp310-manylinux_2_17_aarch64", False),
    ],
)
def test_wheel_tag_check(tag: str, ok: bool) -> None:
    assert loadable_on_fc(tag) is ok


def _fresh(function: str) -> bool:
    info = BUILD / function / build.INFO_FILE
    if not info.exists():
        return False
    return bool(json.loads(info.read_text())["fingerprint"] == build.source_fingerprint(function))


@pytest.fixture(scope="module")
def built() -> Path:
    """``build/`` for this checkout: reused when its fingerprints match, else built (network to PyPI)."""
    if os.environ.get("ACRSYNC_SKIP_BUILD_TEST") == "1":
        pytest.skip("ACRSYNC_SKIP_BUILD_TEST=1: the build (PyPI downloads, ~100 MB a function) is not run")
    if not all(_fresh(f) for f in build.FUNCTIONS):
        proc = subprocess.run(
            [sys.executable, "-m", "acrsync.build"], check=False, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    return BUILD


@pytest.mark.slow
@pytest.mark.parametrize("function", build.FUNCTIONS)
def test_build_holds_the_handler_and_the_package_without_cli_or_stand_ins(built: Path, function: str) -> None:
    root = built / function
    assert (root / "handler.py").read_bytes() == (REPO / "functions" / function / "handler.py").read_bytes()
    assert (root / "acrsync" / "bootstrap" / "__init__.py").exists()
    assert (root / "acrsync" / "bootstrap" / "core.py").exists()
    for left_out in ("local", "cli", "build.py", "deploy_checks.py"):
        assert not (root / "acrsync" / left_out).exists()
    for cli_only in ("typer", "click", "rich"):
        assert not (root / cli_only).exists()
    # bytecode only for FC's interpreter (3.10, made by the build), none left from this machine's
    pycs = list(root.rglob("*.pyc"))
    assert all(p.name.endswith(".cpython-310.pyc") for p in pycs)
    if build.find_python310():
        assert (root / "acrsync" / "bootstrap" / "__pycache__" / "core.cpython-310.pyc").exists()
        assert (root / "__pycache__" / "handler.cpython-310.pyc").exists()


@pytest.mark.slow
@pytest.mark.parametrize("function", build.FUNCTIONS)
def test_every_compiled_dependency_is_built_for_cpython_310_on_manylinux_x86_64(
    built: Path, function: str
) -> None:
    root = built / function
    wheels = sorted(root.glob("*.dist-info/WHEEL"))
    assert len(wheels) > 20
    for wheel in wheels:
        tags = [
            line.split(":", 1)[1].strip()
            for line in wheel.read_text().splitlines()
            if line.startswith("Tag:")
        ]
        assert tags, wheel
        assert any(loadable_on_fc(tag) for tag in tags), (wheel, tags)  # a wheel installs if any tag fits
    extensions = [
        p
        for p in root.rglob("*.so")
        if ".libs" not in p.parent.name and p.relative_to(root).as_posix() not in UNTAGGED_SO_ALLOWED
    ]
    assert extensions  # numpy, re2, yaml, ... are compiled
    assert all(SO_TAG.search(p.name) for p in extensions), [
        p.name for p in extensions if not SO_TAG.search(p.name)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("function", build.FUNCTIONS)
def test_the_handler_imports_on_python_310_from_the_build_alone(built: Path, function: str) -> None:
    python = build.find_python310()
    if not python:
        pytest.skip("no CPython 3.10 on this machine (pyenv or python3.10 on PATH)")
    result = build.verify_import(built / function, python)
    assert str(result["python"]).startswith("3.10.")
    assert result["forbidden"] == []
