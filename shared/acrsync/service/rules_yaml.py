"""Reading a rules file: bytes -> plain data, or ``RuleConfigError`` naming the line and column. Never more.

A rules file is untrusted input, so ``yaml.safe_load`` alone is not enough: it would accept duplicate keys
(last wins), turn ``2024-13-45`` into a traceback and a 5,000-digit number into a ``ValueError``, recurse
until ``RecursionError`` on deep nesting, and let an alias bomb (``&a [*a, *a, ...]`` nested) expand into
billions of nodes for whatever walks the result. Here:

- the file is at most ``MAX_FILE_BYTES``, strict UTF-8, and only YAML's printable characters;
- nodes are composed by a loop (no recursion), at most ``MAX_DEPTH`` collections deep
  (``service.yaml_compose``);
- aliases may add at most ``MAX_ALIAS_NODES`` nodes in all (each counts the size of what it repeats), and
  may not refer to a collection still being composed (a recursive structure);
- duplicate keys are refused; timestamps stay strings (no field of a rules file is a date); an integer has
  at most ``MAX_INT_CHARS`` characters.

libyaml's parser (C, a state machine) is used when PyYAML has it, else PyYAML's own; the constructor is
PyYAML's safe one with the checks above. ``yaml.safe_load`` also accepted anything explicitly tagged
(``!!int abc`` was a ``ValueError``): those are refused as YAML errors too. Imported lazily: only the CLI
parses YAML.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from acrsync.domain.quote import clip, show
from acrsync.errors import RuleConfigError
from acrsync.service.yaml_compose import MAX_ALIAS_NODES, MAX_DEPTH, BoundedComposer

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_INT_CHARS", "parse"]

MAX_FILE_BYTES = 1 << 20
MAX_INT_CHARS = 32

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
# YAML 1.1 printable characters (the spec's c-printable); anything else is refused with its position.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_IMPLICIT = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}


class _Resolver(Resolver):
    """PyYAML's resolver without implicit timestamps: ``2024-01-01`` is the string a tag pattern means."""

    def __init__(self) -> None:
        super().__init__()
        self.yaml_implicit_resolvers = _IMPLICIT

    def _resolve(self, kind: type, value: str | None, implicit: Any, tag: str | None) -> str:
        if tag is not None and tag != "!":
            return tag
        resolver: Any = super()
        return str(resolver.resolve(kind, value, implicit))


class _Constructor(SafeConstructor):
    """PyYAML's safe constructor, refusing duplicate keys and overlong integers."""

    def __init__(self) -> None:
        super().__init__()
        self._checked: set[int] = set()

    def flatten_mapping(self, node: MappingNode) -> None:
        # Every mapping passes here (merge sources too) before PyYAML merges and builds it; each is checked
        # once, before merging adds keys that its own keys may legitimately override.
        if id(node) not in self._checked:
            self._checked.add(id(node))
            _refuse_duplicate_keys(node)
        super().flatten_mapping(node)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = str(node.value)
        if len(text) > MAX_INT_CHARS:
            raise ConstructorError(
                None,
                None,
                f"an integer of {len(text):,} characters is too long (at most {MAX_INT_CHARS}); "
                "quote it if it is meant as text",
                node.start_mark,
            )
        return int(_explicit(super().construct_yaml_int, node, "!!int"))

    def construct_yaml_float(self, node: ScalarNode) -> float:
        return float(_explicit(super().construct_yaml_float, node, "!!float"))

    def construct_yaml_bool(self, node: ScalarNode) -> bool:
        return bool(_explicit(super().construct_yaml_bool, node, "!!bool"))


def _explicit(construct: Any, node: ScalarNode, tag: str) -> Any:
    """Implicit scalars always convert (the resolver matched them); ``!!int abc`` must fail as YAML does."""
    try:
        return construct(node)
    except (ValueError, KeyError, IndexError, TypeError):
        raise ConstructorError(
            None, None, f"{show(node.value)} is not a valid {tag}", node.start_mark
        ) from None


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:bool", _Constructor.construct_yaml_bool)  # type: ignore[type-var]
_Constructor.add_constructor(_TIMESTAMP, SafeConstructor.construct_yaml_str)  # type: ignore[type-var]


def _refuse_duplicate_keys(node: MappingNode) -> None:
    seen: dict[tuple[str, str], Any] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise ConstructorError(
                None,
                None,
                f"duplicate key {show(key_node.value)} (first at line {seen[key].line + 1}); "
                "a key may appear once in a mapping",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark


class _PyLoader(BoundedComposer, Reader, Scanner, Parser, _Constructor, _Resolver):
    """PyYAML's pure-Python reader, scanner and parser under the bounded composer and constructor."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


def _c_loader() -> type | None:
    """The same with libyaml's parser (about 10x faster), when PyYAML was built with it."""
    try:
        from yaml.cyaml import CParser  # type: ignore[attr-defined]
    except ImportError:  # PyYAML built without libyaml
        return None
    c_parser: Any = CParser

    class _CLoader(BoundedComposer, c_parser, _Constructor, _Resolver):  # type: ignore[misc]
        def __init__(self, text: str) -> None:
            c_parser.__init__(self, text)
            _Constructor.__init__(self)
            _Resolver.__init__(self)

    return _CLoader


_LOADER: type = _c_loader() or _PyLoader


def parse(data: bytes | str, *, source: str = "<rules>") -> Any:
    """The plain data of a rules file, or ``RuleConfigError`` saying where (line, column) and what is wrong.

    ``data`` is the file's bytes (strict UTF-8) or its text.
    """
    text = _decode(data, source) if isinstance(data, bytes) else data
    if len(text) > MAX_FILE_BYTES:
        raise RuleConfigError([_too_big(source, len(text.encode("utf-8", "replace")))])
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        where = _line_column(text, bad.start())
        raise RuleConfigError(
            [f"{source}: {where}: character U+{ord(bad.group()):04X} is not allowed in a YAML file"]
        )
    loader = _LOADER(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        raise RuleConfigError([_marked(source, exc)]) from None
    except yaml.YAMLError as exc:
        raise RuleConfigError([f"{source}: not valid YAML: {clip(str(exc), 160)}"]) from None
    finally:
        loader.dispose()


def _decode(raw: bytes, source: str) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise RuleConfigError([_too_big(source, len(raw))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        raise RuleConfigError(
            [
                f"{source}: line {line}, column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8; "
                "save the file as UTF-8"
            ]
        ) from None
    return text.removeprefix("\ufeff")


def _too_big(source: str, size: int) -> str:
    return (
        f"{source}: {size:,} bytes or more; a rules file is at most {MAX_FILE_BYTES:,} bytes (1 MiB) "
        "(globs take {a,b}, regexes a|b; YAML anchors and aliases share repeated destinations)"
    )


def _line_column(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    return f"line {line}, column {index - (text.rfind(chr(10), 0, index) + 1) + 1}"


def _marked(source: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
    problem = clip(str(exc.problem or exc.context or "not valid YAML"), 200)
    if isinstance(exc, (yaml.scanner.ScannerError, yaml.parser.ParserError)):
        return f"{source}: YAML syntax error at {where}: {problem}"
    return f"{source}: {where}: {problem}"
