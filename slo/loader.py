"""Read gate specs from YAML text and report every problem with file, line and field path.

The caller hands in the text and the name to report it under; this module never opens files. YAML is
parsed with the safe loader only, and the node tree is kept so that validation errors from pydantic can
be mapped back to the line where the offending field stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from slo.errors import GatepackError
from slo.spec import Gate

# libyaml's loader when PyYAML was built with it: same documents and marks, several times faster on
# gates of a thousand checks; the pure-Python loader otherwise
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SpecLoader(_BASE_LOADER):  # type: ignore[misc]
    """The safe loader without its timestamp resolver: ``2026-02-30`` stays text (a spec has no date fields)
    instead of PyYAML's date constructor raising a bare ValueError with no position."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
}
_SAFE_LOADER: Any = _SpecLoader
"""The loader every gatepack YAML input uses (specs, sprint calendars): safe, date-like scalars kept as text."""

Path = tuple[str | int, ...]

MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences a spec may have; real gates need under ten levels."""


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a spec file, precise enough to jump to."""

    source: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SpecError(GatepackError):
    """All problems found in one or more spec files; raised once, after everything was checked."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _line(event: yaml.Event) -> int:
    """1-based line of a parser event (1 when the parser gave no position)."""
    return event.start_mark.line + 1 if event.start_mark is not None else 1


def _field_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _index_lines(node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[str]) -> None:
    """Record the 1-based line of every mapping key and sequence item below ``node``."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(f"{key_node.start_mark.line + 1}\t{_field_path((*path, key))}\tduplicate key")
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_lines(item, (*path, index), lines, problems)


def _line_for(loc: tuple[Any, ...], data: Any, lines: dict[Path, int]) -> tuple[int, Path]:
    """Best line for a pydantic error location; union tags in ``loc`` that are not data keys are skipped."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part == node.get("kind"):
            continue  # pydantic's tag for the union member, not a field
        elif isinstance(node, dict) and isinstance(part, str) and part not in node and part == loc[-1]:
            path.append(part)  # a missing or unknown field: report it under its parent's line
            break
    for end in range(len(path), -1, -1):
        key = tuple(path[:end])
        if key in lines:
            return lines[key], tuple(path)
    return 1, tuple(path)


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def _check_events(text: str, source: str) -> None:
    """Refuse aliases and deep nesting before any node tree is built.

    An alias makes one node appear in many places: a few hundred bytes of nested aliases (a "billion
    laughs" bomb) expand to billions of nodes as soon as anything walks the tree, which line indexing and
    validation both do. Specs have no need for them, so ``*name`` (and ``<<: *name`` merges) are an error
    at their line. The event stream is flat, so this pass costs little and never expands anything.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise SpecError(
                [
                    SpecProblem(
                        source,
                        _line(event),
                        "",
                        f"YAML alias *{event.anchor} is not allowed in a spec: write the value out",
                    )
                ]
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError([SpecProblem(source, _line(event), "", f"nested deeper than {MAX_DEPTH} levels")])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _construct(node: yaml.Node | None) -> Any:
    """The Python data of one composed document, as ``yaml.load_all`` would build it from the text."""
    if node is None:
        return None
    loader = _SAFE_LOADER("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


_kept: dict[str, list[yaml.Node]] = {}
"""Node trees of texts loaded with ``keep_nodes``, until :func:`take_nodes` hands them out (once)."""


def take_nodes(text: str) -> list[yaml.Node] | None:
    """The composed documents of ``text`` when it was just loaded with ``keep_nodes=True``, else None.

    The placeholder check walks the same node tree the loader built; composing a spec of a thousand checks
    again cost a quarter of its loading. Each tree is handed out once and then dropped, so none outlives
    the checks that want it.
    """
    return _kept.pop(text, None)


def forget_nodes() -> None:
    """Drop every kept node tree (those no check asked for)."""
    _kept.clear()


def load_gates(text: str, source: str = "<spec>", *, keep_nodes: bool = False) -> list[Gate]:
    """Every gate in a YAML text (one per document); raises :class:`SpecError` listing all problems.

    ``keep_nodes`` keeps the composed documents for one :func:`take_nodes` of the same text.
    """
    problems: list[SpecProblem] = []
    try:
        _check_events(text, source)
        nodes = list(yaml.compose_all(text, Loader=_SAFE_LOADER))
        documents = [_construct(node) for node in nodes]  # from the same nodes: the text is parsed once more, not twice
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecProblem(source, line, "", f"invalid YAML: {problem}")]) from None
    if keep_nodes:
        _kept[text] = nodes

    gates: list[Gate] = []
    for node, data in zip(nodes, documents, strict=True):
        if node is None or data is None:
            continue
        lines: dict[Path, int] = {}
        raw_dupes: list[str] = []
        _index_lines(node, (), lines, raw_dupes)
        for entry in raw_dupes:
            line, field, message = entry.split("\t")
            problems.append(SpecProblem(source, int(line), field, message))
        if not isinstance(data, dict):
            problems.append(SpecProblem(source, node.start_mark.line + 1, "", "a gate spec must be a mapping"))
            continue
        try:
            gates.append(Gate.model_validate(data))
        except ValidationError as exc:
            for error in exc.errors():
                line, path = _line_for(tuple(error["loc"]), data, lines)
                problems.append(SpecProblem(source, line, _field_path(path), _message(dict(error))))
    if problems:
        raise SpecError(problems)
    if not gates:
        raise SpecError([SpecProblem(source, 1, "", "no gate found (expected apiVersion: gatepack/v1, kind: Gate)")])
    return gates
