"""The README's reference tables are true: its CLI table against the real typer commands and options, its
configuration table against ``config.KNOWN_VARIABLES``, and every ``acr-sync ...`` command line the docs
show against the commands that exist. A promise in the README that is not true is a bug."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from acrsync.cli.app import app
from acrsync.config import KNOWN_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / p for p in ("README.md", "deploy/README.md", "docs/tables.md", "events/README.md")]
OPTION_RE = re.compile(r"--[a-z][a-z0-9-]*")
# `--json` is promised once for every data command ("--json where the output is data"), not per row.
BLANKET_OPTIONS = {"--json", "--help"}


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _table_first_cells(section: str) -> list[str]:
    cells = []
    for line in section.splitlines():
        match = re.match(r"^\| `([^`]+)`", line)
        if match:
            cells.append(match.group(1))
    return cells


def _leaf_commands() -> dict[str, Any]:
    root = typer.main.get_command(app)
    leaves: dict[str, Any] = {}

    # typer 0.29 vendors click (typer._click): its commands are recognised by shape, not by class.
    def walk(prefix: str, command: Any) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            leaves[prefix] = command

    walk("", root)
    return leaves


def _options(command: Any) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if param.param_type_name == "option":
            names.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    return names


def _command_path(text: str, leaves: dict[str, Any]) -> str | None:
    """The longest run of leading words of ``text`` that names a real command."""
    words = text.split()
    for n in range(min(len(words), 3), 0, -1):
        candidate = " ".join(words[:n])
        if candidate in leaves:
            return candidate
    return None


def _readme_cli_rows() -> dict[str, set[str]]:
    leaves = _leaf_commands()
    rows: dict[str, set[str]] = {}
    for cell in _table_first_cells(_section("CLI")):
        path = _command_path(cell, leaves)
        assert path is not None, f"README CLI table row `{cell}` names no acr-sync command"
        rows.setdefault(path, set()).update(OPTION_RE.findall(cell))
    return rows


def test_every_command_has_a_row_in_the_readme_cli_table_and_every_row_a_command() -> None:
    assert set(_readme_cli_rows()) == set(_leaf_commands())


def test_every_option_the_readme_cli_table_names_exists_with_that_spelling() -> None:
    leaves = _leaf_commands()
    wrong = {
        path: sorted(named - _options(leaves[path]))
        for path, named in _readme_cli_rows().items()
        if named - _options(leaves[path])
    }
    assert wrong == {}


def test_every_option_of_every_command_is_in_the_readme_cli_table() -> None:
    leaves = _leaf_commands()
    rows = _readme_cli_rows()
    undocumented: dict[str, list[str]] = {}
    for path, command in leaves.items():
        for param in command.params:
            if param.param_type_name != "option":
                continue
            spellings = {o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")}
            if spellings & BLANKET_OPTIONS or spellings & rows[path]:
                continue
            undocumented.setdefault(path, []).append(sorted(spellings)[0])
    assert undocumented == {}


def test_every_command_line_the_docs_show_runs_a_real_command_with_real_options() -> None:
    leaves = _leaf_commands()
    root_options = _options(typer.main.get_command(app))
    wrong = []
    for doc in DOCS:
        for line in re.findall(r"acr-sync ([a-z][^`|\n]*)", doc.read_text(encoding="utf-8")):
            path = _command_path(line, leaves)
            if path is None:
                if line.split()[0] in {"rules", "tables", "local"} or "--" in line.split("#")[0]:
                    wrong.append(f"{doc.name}: acr-sync {line}")
                continue
            named = set(OPTION_RE.findall(line.split("#")[0].split("||")[0]))
            unknown = named - _options(leaves[path]) - root_options
            if unknown:
                wrong.append(f"{doc.name}: acr-sync {line} ({', '.join(sorted(unknown))})")
    assert wrong == []


def _readme_variables() -> set[str]:
    names: set[str] = set()
    for line in _section("Configuration").splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*\*?)`", line.split("|")[1]))
    return names


def test_the_readme_configuration_table_lists_exactly_the_known_variables() -> None:
    documented = _readme_variables()
    # A registry credential is named by the rules file (credentials_env), so the README lists its prefix.
    assert "ACRSYNC_REGISTRY_*" in documented
    assert documented - {"ACRSYNC_REGISTRY_*"} == set(KNOWN_VARIABLES)


def test_every_command_shows_examples_that_run_real_commands_with_real_options() -> None:
    from typer.testing import CliRunner

    from acrsync.cli.examples import EXAMPLES

    leaves = _leaf_commands()
    assert set(EXAMPLES) == set(leaves)
    for path, lines in EXAMPLES.items():
        for line in lines:
            rest = line.split("acr-sync ", 1)[1]
            assert _command_path(rest, leaves) == path, line
            assert set(OPTION_RE.findall(rest)) <= _options(leaves[path]), line
        shown = CliRunner().invoke(app, [*path.split(), "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0
        assert "Examples:" in shown.output, path
        assert lines[0] in shown.output, path
