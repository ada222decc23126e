"""A YAML composer that cannot be made to recurse or explode: nodes from parser events, in a loop.

PyYAML's composer recurses once per nesting level (``RecursionError`` on a few hundred ``[``) and hands
aliases out unexpanded, so an alias bomb only explodes later, in whatever walks the result (a validator,
a ``repr`` in an error message). This one keeps a stack of open collections (at most ``MAX_DEPTH``), knows
how many nodes each node stands for with its aliases expanded, and refuses an alias that takes the total
repeated beyond ``MAX_ALIAS_NODES``, or that points into a collection still open (a recursive structure).
Mixed into a loader in place of PyYAML's ``Composer`` (``service.rules_yaml``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yaml.composer import ComposerError
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent, SequenceStartEvent, StreamEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from acrsync.domain.quote import show

MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000


class BoundedComposer:
    """Nodes from parser events, iteratively, counting depth and what aliases add (mixed into a loader)."""

    def get_single_node(self) -> Node | None:
        events: Any = self
        events.get_event()  # stream start
        node = None
        if not events.check_event(StreamEndEvent):
            events.get_event()  # document start
            node = _compose(events, self._resolve)  # type: ignore[attr-defined]
            events.get_event()  # document end
        if not events.check_event(StreamEndEvent):
            extra = events.get_event()
            raise ComposerError(
                None, None, "a rules file holds one YAML document; found a second", extra.start_mark
            )
        events.get_event()
        return node


def _compose(events: Any, resolve: Any) -> Node:
    anchors: dict[str, Node] = {}
    sizes: dict[int, int] = {}  # id(node) -> nodes it stands for, aliases expanded
    open_nodes: list[Node] = []
    pending_key: list[Node | None] = []
    budget = MAX_ALIAS_NODES
    while True:
        event = events.get_event()
        start: Any = event.start_mark  # PyYAML's or libyaml's Mark (typed apart, alike in use)
        end: Any = event.end_mark
        if isinstance(event, AliasEvent):
            node = _alias(anchors, event, open_nodes)
            budget -= sizes[id(node)]
            if budget < 0:
                raise ComposerError(
                    None,
                    None,
                    f"aliases here repeat more than {MAX_ALIAS_NODES:,} nodes in all "
                    "(a YAML alias bomb?); write the values out or use fewer aliases",
                    start,
                )
        elif isinstance(event, ScalarEvent):
            node = ScalarNode(
                resolve(ScalarNode, event.value, event.implicit, event.tag),
                event.value,
                start,
                end,
                style=event.style,
            )
            sizes[id(node)] = 1
            _anchor(anchors, event, node)
        elif isinstance(event, CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", start)
            kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
            tag = resolve(kind, None, event.implicit, event.tag)
            collection = kind(tag, [], start, None, flow_style=event.flow_style)
            _anchor(anchors, event, collection)
            open_nodes.append(collection)
            pending_key.append(None)
            continue
        else:  # the end of the innermost collection
            node = open_nodes.pop()
            pending_key.pop()
            node.end_mark = end
            sizes[id(node)] = 1 + sum(_children_sizes(node, sizes))
        if not open_nodes:
            return node
        _attach(open_nodes[-1], pending_key, node)


def _alias(anchors: dict[str, Node], event: Any, open_nodes: list[Node]) -> Node:
    node = anchors.get(event.anchor)
    if node is None:
        raise ComposerError(None, None, f"found undefined alias {show(event.anchor)}", event.start_mark)
    if any(node is n for n in open_nodes):
        problem = f"alias {show(event.anchor)} refers to a collection that contains it"
        raise ComposerError(None, None, problem, event.start_mark)
    return node


def _anchor(anchors: dict[str, Node], event: Any, node: Node) -> None:
    if event.anchor is None:
        return
    if event.anchor in anchors:
        first = anchors[event.anchor].start_mark
        raise ComposerError(
            None,
            None,
            f"found duplicate anchor {show(event.anchor)} (first at line {first.line + 1})",
            event.start_mark,
        )
    anchors[event.anchor] = node


def _children_sizes(node: Node, sizes: dict[int, int]) -> Iterable[int]:
    if isinstance(node, SequenceNode):
        return (sizes[id(child)] for child in node.value)
    return (sizes[id(k)] + sizes[id(v)] for k, v in node.value)


def _attach(parent: Node, pending_key: list[Node | None], node: Node) -> None:
    if isinstance(parent, SequenceNode):
        parent.value.append(node)
    elif pending_key[-1] is None:
        pending_key[-1] = node
    else:
        parent.value.append((pending_key[-1], node))
        pending_key[-1] = None
