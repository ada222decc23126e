"""Build the FC code packages: ``build/<function>/`` = ``handler.py``, ``acrsync``, runtime dependencies.

Run by ``make build`` (``python -m acrsync.build``); s.yaml's pre-deploy action calls it, and each function's
``code:`` points at its directory. The dependencies are wheels for the FC runtime, not for this machine:
CPython 3.10 on x86_64 Debian 10, glibc 2.28 (reference §3.1), so compiled wheels must be tagged
``cp310``/``abi3`` and ``manylinux`` up to ``2_28``. They are installed once per requirement set into
``build/.deps/<key>`` (pip's cache makes a cold rebuild fast too) and linked into each function.

The package leaves out what the functions never import: ``acrsync.local`` (stand-ins), ``acrsync.cli``,
this module and ``deploy_checks``; the CLI-only dependencies (typer, click, rich) are not installed. With a
python3.10 on the machine, each build is proven by importing its handler in an isolated interpreter whose
``sys.path`` is the build directory plus the standard library.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parent
FUNCTIONS = ("replicator", "watcher", "reconciler", "copier")
TARGET_PYTHON = "3.10"
GLIBC_MINOR = 28  # Debian 10 ships glibc 2.28: every manylinux_2_x up to it runs there
# The FC 3.0 SDK serves `doctor --deployed` only (an operator's command): the functions never call FC's API.
CLI_ONLY = frozenset({"typer", "click", "rich", "alibabacloud-fc20230330"})
LEFT_OUT = frozenset({"local", "cli", "build.py", "deploy_checks.py"})
INFO_FILE = ".acrsync-build.json"
# Imported inside functions (cold start), so importing the handler does not prove them: the probe imports
# them too. tablestore is the one whose import pulls numpy, protobuf and aiohttp.
LAZY_IMPORTS = (
    "tablestore",
    "alibabacloud_cr20181201.client",
    "alibabacloud_tea_openapi.utils_models",
    "darabonba.runtime",
    "Tea.exceptions",
    "alibabacloud_eventbridge20200401.client",  # the watcher's outcome-event publisher (ACRSYNC_EVENT_BUS)
)
FORBIDDEN_AT_RUNTIME = ("typer", "click", "rich", "acrsync.local", "acrsync.cli", "acrsync.build")


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else ""


def project_dependencies(pyproject_text: str) -> list[str]:
    """``[project].dependencies`` read with a regex (``tomllib`` is 3.11+, and the list is plain strings)."""
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[)", pyproject_text, re.S | re.M)
    block = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", project.group(1) if project else "", re.S | re.M)
    if block is None:
        raise ValueError("pyproject.toml: no [project].dependencies list")
    lines = (line.split("#", 1)[0] for line in block.group(1).splitlines())
    return [m.group(1) for line in lines for m in re.finditer(r'"([^"]+)"', line)]


# The environment markers of FC's runtime. pip evaluates markers against the interpreter running it, not
# against --python-version (so aiohttp's `async-timeout; python_version < "3.11"` would be lost on a 3.11
# build machine): the build evaluates them itself, for this environment.
TARGET_MARKERS = {
    "python_version": TARGET_PYTHON,
    "python_full_version": f"{TARGET_PYTHON}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "extra": "",
}


def _packaging(module: str) -> Any:
    """``packaging.<module>`` (a dependency of pytest and setuptools), or the copy pip vendors."""
    try:
        return importlib.import_module(f"packaging.{module}")
    except ImportError:
        return importlib.import_module(f"pip._vendor.packaging.{module}")


def for_target(requirement: str) -> str:
    """``requirement`` without its marker if the marker holds on FC's python3.10, else ``""``."""
    req = _packaging("requirements").Requirement(requirement)
    if req.marker is not None and not req.marker.evaluate(TARGET_MARKERS):
        return ""
    req.marker = None
    return str(req)


def missing_requirements(root: Path) -> list[str]:
    """Dependencies of the distributions installed under ``root`` that apply on FC but are not installed."""
    installed = {_name(p.name.split("-")[0]) for p in root.glob("*.dist-info")}
    missing: dict[str, str] = {}
    for metadata in sorted(root.glob("*.dist-info/METADATA")):
        for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Requires-Dist:"):
                req = for_target(line.partition(":")[2].strip())
                if req and _name(req) not in installed:
                    missing.setdefault(_name(req), req)
    return sorted(missing.values())


def runtime_requirements(pyproject_text: str) -> list[str]:
    """The pins the functions need: CLI-only ones dropped; a pin with an environment marker is kept
    (without the marker) when the marker holds on python3.10 — pyproject pins per Python version that way.
    """
    requirements: list[str] = []
    for req in project_dependencies(pyproject_text):
        if _name(req) in CLI_ONLY:
            continue
        chosen = for_target(req)
        if chosen:
            requirements.append(chosen)
    return requirements


def platform_tags() -> list[str]:
    """Every manylinux tag FC's python3.10 (x86_64, glibc 2.28) can load, newest first."""
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_MINOR, 4, -1)]
    return [*tags, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


def pip_command(target: Path, requirements: Sequence[str], cache_dir: Path) -> list[str]:
    """``pip install --target`` for the FC runtime; ``--no-compile`` because .pyc of this interpreter is
    useless on 3.10."""
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile"]
    cmd += ["--target", str(target), "--cache-dir", str(cache_dir), "--only-binary=:all:"]
    cmd += ["--implementation", "cp", "--python-version", TARGET_PYTHON]
    for tag in platform_tags():
        cmd += ["--platform", tag]
    return [*cmd, *requirements]


def trim(root: Path, *, keep: str = "acrsync") -> int:
    """Delete what never runs on FC; return the bytes removed. Keeps ``*.dist-info`` (small, and
    ``importlib.metadata`` users need it)."""
    doomed: list[Path] = []
    bin_dir = root / "bin"  # console scripts whose shebang names this machine's interpreter
    if bin_dir.is_dir():
        doomed.append(bin_dir)
    for path in root.rglob("*"):
        rel = path.relative_to(root).parts
        if rel[0] == keep or rel[0].endswith(".dist-info"):
            continue
        if path.is_dir() and path.name == "__pycache__":
            doomed.append(path)
        elif path.is_dir() and path.name in ("tests", "test") and (path.parent / "__init__.py").exists():
            doomed.append(path)  # a package's own test suite: imported by nothing at run time
        elif path.is_file() and path.suffix in (".pyc", ".pyi", ".dylib", ".dll", ".pyd"):
            doomed.append(path)  # stale bytecode; type stubs; other operating systems' binaries
        elif path.is_file() and path.name.endswith("-darwin.so"):
            doomed.append(path)  # tablestore ships a macOS build of its native codec
    removed = 0
    for path in doomed:
        if not path.exists():
            continue  # inside a directory already removed
        removed += tree_size(path)[1]
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return removed


def tree_size(path: Path) -> tuple[int, int]:
    """``(files, bytes)`` under ``path`` (or of the file itself)."""
    if path.is_file():
        return 1, path.stat().st_size
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return len(files), sum(p.stat().st_size for p in files)


def _deps_key(requirements: Sequence[str]) -> str:
    blob = json.dumps([3, TARGET_PYTHON, platform_tags(), sorted(requirements)]).encode()  # 2: marker closure
    return hashlib.sha256(blob).hexdigest()[:16]


def install_dependencies(out: Path, requirements: Sequence[str], cache_dir: Path) -> tuple[Path, int]:
    """The shared dependency tree for ``requirements`` (installed once, reused while the pins are unchanged)
    and the bytes trimmed from it when it was installed."""
    deps = out / ".deps" / _deps_key(requirements)
    stamp = deps / ".complete"
    if stamp.exists():
        return deps, int(json.loads(stamp.read_text()).get("trimmed_bytes", 0))
    staging = deps.with_name(deps.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    wanted = list(requirements)
    for _ in range(5):  # each pass installs what the previous pass's markers (evaluated for 3.10) still need
        _pip(pip_command(staging, wanted, cache_dir))
        wanted = missing_requirements(staging)
        if not wanted:
            break
    else:
        raise RuntimeError(f"dependencies for python3.10 still missing after 5 passes: {wanted}")
    trimmed = trim(staging)
    stamp_text = json.dumps({"requirements": list(requirements), "trimmed_bytes": trimmed})
    (staging / ".complete").write_text(stamp_text)
    shutil.rmtree(deps, ignore_errors=True)
    staging.rename(deps)
    return deps, trimmed


def _pip(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)  # noqa: S603 - our own pip argv
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:] + proc.stderr.splitlines()[-15:])
        raise RuntimeError(f"pip install for the FC runtime failed:\n{tail}")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # the dependency tree is read-only build output: hard links save ~150 MB a function
    except OSError:
        shutil.copy2(src, dst)


def source_fingerprint(function: str) -> str:
    """A hash of what goes into ``build/<function>`` from this checkout: handler, package, pins, recipe."""
    digest = hashlib.sha256()
    # build.py itself too: a changed recipe (e.g. the bytecode step) must not reuse an older build
    files = [REPO / "functions" / function / "handler.py", REPO / "pyproject.toml", Path(__file__)]
    files += sorted(p for p in PACKAGE.rglob("*.py") if _packaged(p.relative_to(PACKAGE).parts))
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _packaged(parts: tuple[str, ...]) -> bool:
    return parts[0] not in LEFT_OUT and "__pycache__" not in parts


def assemble(function: str, out: Path, deps: Path) -> Path:
    """Lay out ``out/<function>`` afresh: dependencies, the ``acrsync`` package, ``handler.py``."""
    target = out / function
    shutil.rmtree(target, ignore_errors=True)
    ignore_stamp = shutil.ignore_patterns(".complete")
    shutil.copytree(deps, target, copy_function=_link_or_copy, ignore=ignore_stamp)

    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == PACKAGE
        return {n for n in names if n == "__pycache__" or n.endswith(".pyc") or (top and n in LEFT_OUT)}

    shutil.copytree(PACKAGE, target / "acrsync", ignore=ignore)
    shutil.copy2(REPO / "functions" / function / "handler.py", target / "handler.py")
    return target


def find_python310() -> str:
    """A working CPython 3.10 to prove the build with (pyenv's, or ``python3.10`` on PATH); ``""`` if none.

    Each candidate is run once: a pyenv shim on PATH exists even when it cannot start 3.10.
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(p) for p in sorted(pyenv.glob("3.10*/bin/python3.10"), reverse=True)]
    candidates += [found for found in [shutil.which("python3.10")] if found]
    check = "import sys; raise SystemExit(sys.version_info[:2] != (3, 10))"
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", check], check=False, capture_output=True, timeout=30)  # noqa: S603
        if probe.returncode == 0:
            return candidate
    return ""


_PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1]]
import handler
assert callable(handler.handler), "handler.handler is not callable"
for lazy in sys.argv[2:]:
    __import__(lazy)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {"typer", "click", "rich"}
             or m.startswith(("acrsync.local", "acrsync.cli", "acrsync.build")))
print(json.dumps({"python": sys.version.split()[0], "forbidden": bad}))
"""


def precompile(build_dir: Path, python: str) -> int:
    """Write CPython 3.10 bytecode beside every module; return how many ``.pyc`` files there are.

    FC unpacks the code package read-only, so without bytecode in the package every cold start compiles
    every module it imports (the ACR SDK's import fell from about 6.3 s to 2.0 s wall here with it).
    ``unchecked-hash`` pycs are used whatever the sources' timestamps become when the zip is unpacked. Made
    with the 3.10 interpreter the build proves imports with, so the magic number is FC's; without one the
    package simply has none.
    """
    proc = subprocess.run(  # noqa: S603 - the interpreter we found, compiling our own build
        [python, "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", "."],
        check=False,
        capture_output=True,
        text=True,
        cwd=build_dir,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"compiling {build_dir.name} on {python} failed:\n{proc.stdout[-3000:]}")
    return sum(1 for _ in build_dir.rglob("*.cpython-310.pyc"))


def verify_import(build_dir: Path, python: str) -> dict[str, object]:
    """Import ``handler`` from ``build_dir`` with ``-I -S`` (no site-packages, no environment): only the
    build directory and the standard library are on ``sys.path``, as on FC with our code package."""
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    proc = subprocess.run(  # noqa: S603 - the interpreter we found, running our own probe
        [python, "-B", "-I", "-S", "-c", _PROBE, str(build_dir), *LAZY_IMPORTS],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=build_dir,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"importing {build_dir.name}/handler.py on {python} failed:\n{proc.stderr[-3000:]}"
        )
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["forbidden"]:
        raise RuntimeError(
            f"{build_dir.name}: the handler imports CLI/stand-in modules: {result['forbidden']}"
        )
    return result


def build(functions: Sequence[str], out: Path, cache_dir: Path, python310: str) -> list[dict[str, object]]:
    """Build each function; return one summary row per function."""
    requirements = runtime_requirements((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    started = time.monotonic()
    deps, trimmed = install_dependencies(out, requirements, cache_dir)
    rows: list[dict[str, object]] = []
    for function in functions:
        target = assemble(function, out, deps)
        info = {
            "function": function,
            "fingerprint": source_fingerprint(function),
            "requirements": requirements,
        }
        (target / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        compiled = precompile(target, python310) if python310 else 0
        files, size = tree_size(target)
        probe = verify_import(target, python310) if python310 else {"python": "skipped (no python3.10)"}
        rows.append(
            {
                "function": function,
                "files": files,
                "mb": round(size / 1e6, 1),
                "so": sum(1 for _ in target.rglob("*.so")),
                "trimmed_mb": round(trimmed / 1e6, 1),
                "import": probe["python"],
                "pyc": compiled,
            }
        )
    sys.stderr.write(f"built {', '.join(functions)} in {time.monotonic() - started:.1f} s\n")
    return rows


def print_table(rows: Sequence[dict[str, object]]) -> None:
    """The summary table on stdout."""
    sys.stdout.write(
        f"{'function':<12} {'files':>6} {'MB':>7} {'.so':>4} {'trimmed MB':>11} {'.pyc':>6}  import check\n"
    )
    for row in rows:
        sys.stdout.write(
            f"{row['function']!s:<12} {row['files']!s:>6} {row['mb']!s:>7} {row['so']!s:>4} "
            f"{row['trimmed_mb']!s:>11} {row.get('pyc', 0)!s:>6}  {row['import']}\n"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m acrsync.build [--function NAME]... [--out DIR] [--cache-dir DIR] [--no-verify]``."""
    parser = argparse.ArgumentParser(prog="python -m acrsync.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--function", action="append", choices=FUNCTIONS, help="default: all")
    parser.add_argument("--out", type=Path, default=REPO / "build")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "acrsync-build" / "pip")
    parser.add_argument("--python310", default=None, help="interpreter for the import check")
    parser.add_argument("--no-verify", action="store_true", help="skip the python3.10 import check")
    args = parser.parse_args(argv)
    python310 = "" if args.no_verify else (args.python310 or find_python310())
    if not python310 and not args.no_verify:
        sys.stderr.write("warning: no python3.10 found: the import check is skipped\n")
    try:
        rows = build(args.function or FUNCTIONS, args.out.resolve(), args.cache_dir, python310)
    except RuntimeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
