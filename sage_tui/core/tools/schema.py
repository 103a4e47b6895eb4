"""Argument checking against the JSON-schema subset SAGE's tools declare.

Supported keywords: type, properties, required, additionalProperties (false),
enum, minimum, maximum, minLength, items. Messages name the field, so the model
can fix its call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sage_tui.core.log.redaction import clip

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),),
}


def validate(value: Any, schema: Mapping[str, Any], where: str = "arguments") -> list[str]:
    """Problems with `value`, each naming the field; empty when it fits."""
    problems: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        allowed = _TYPES[kind]
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            return [clip(f"{where} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}, "
                         f"got {type(value).__name__} {value!r}", 200)]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where} must be one of {', '.join(map(str, schema['enum']))}, "
                        f"got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where} must be at least {schema['minimum']}, got {value}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where} must be at most {schema['maximum']}, got {value}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        problems.append(f"{where} must not be empty")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{where} lacks the required field '{name}'")
        for name, item in value.items():
            if name in properties:
                problems += validate(item, properties[name], f"'{name}'")
            elif schema.get("additionalProperties") is False:
                known = ", ".join(properties) or "none"
                problems.append(f"{where} has an unknown field '{name}' (known: {known})")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += validate(item, schema["items"], f"{where}[{index}]")
    return problems
