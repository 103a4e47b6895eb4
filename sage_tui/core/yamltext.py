"""YAML in, safely: every YAML file SAGE reads (models.yaml, tool policies, scenarios, specs).

One library (ruamel.yaml) and one loader: its safe schema, pure Python, so a file can only
build plain data (`!!python/name:os.system` is an error, never a call) and every mistake
comes back as one `YAMLSyntaxError` with its line and column, whatever the build of the
library. ruamel.yaml is imported on first use: start-up does not pay for it.
The workbench's round-trip edits of models.yaml (comments kept) live in `setup/modelsyaml.py`.
"""

from __future__ import annotations

from typing import Any

KeyLines = dict[tuple[str, ...], int]


class YAMLSyntaxError(ValueError):
    """A text that is not YAML, or that asks for more than plain data.

    Attributes:
        problem: what is wrong, in the parser's words (one line).
        line: 1-based line of the problem, when the parser knows it.
        column: 1-based column of the problem, when the parser knows it.
    """

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.column = column

    @property
    def where(self) -> str:
        """`" at line L, column C"`, or nothing when the position is unknown."""
        return f" at line {self.line}, column {self.column}" if self.line is not None else ""

    def __str__(self) -> str:
        return f"{self.problem}{self.where}"


def safe_load(text: str) -> Any:
    """The plain data in `text` (None for an empty document).

    Raises:
        YAMLSyntaxError: the text does not parse, or uses a tag outside the safe schema.
    """
    return load_with_lines(text)[0]


def load_with_lines(text: str) -> tuple[Any, KeyLines]:
    """The plain data in `text` and the 1-based line of every mapping key, by its key path.

    Raises:
        YAMLSyntaxError: the text does not parse, or uses a tag outside the safe schema.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.nodes import MappingNode, Node

    yaml = YAML(typ="safe", pure=True)
    try:  # one parse: the node tree for the lines, then the data built from it
        node = yaml.compose(text)
        data = yaml.constructor.construct_document(node) if node is not None else None
    except (YAMLError, ValueError, TypeError) as exc:  # ValueError: a tag such as `!!int abc`
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).strip() or type(exc).__name__
        problem = problem.splitlines()[0].rstrip(".")
        if mark is None:
            raise YAMLSyntaxError(problem) from exc
        raise YAMLSyntaxError(problem, mark.line + 1, mark.column + 1) from exc
    lines: KeyLines = {}

    def walk(current: Node | None, path: tuple[str, ...]) -> None:
        if isinstance(current, MappingNode):
            for key, value in current.value:
                sub = (*path, str(key.value))
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)

    walk(node, ())
    return data, lines
