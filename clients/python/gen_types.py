"""JSON schemas as Python annotations, and the component schemas as msgspec Structs."""

from __future__ import annotations

import keyword
from typing import Any

REF = "#/components/schemas/"


def py_type(schema: dict[str, Any], *, accept: bool = False) -> str:
    """The Python annotation of a JSON schema; ``accept``: as a parameter (a model or a mapping)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return f"{name} | Mapping[str, Any]" if accept else name
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            parts = [py_type(s, accept=accept) for s in schema[combinator]]
            return " | ".join(dict.fromkeys(p for part in parts for p in part.split(" | ")))
    if "enum" in schema:
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    kind = schema.get("type")
    if kind == "string":
        return "datetime" if schema.get("format") == "date-time" else "str"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "null":
        return "None"
    if kind == "array":
        inner = py_type(schema.get("items", {}), accept=accept)
        return f"Sequence[{inner}]" if accept else f"list[{inner}]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        value = py_type(extra) if isinstance(extra, dict) and extra else "Any"
        return f"Mapping[str, {value}]" if accept else f"dict[str, {value}]"
    return "Any"


def nullable(schema: dict[str, Any]) -> bool:
    return any(s.get("type") == "null" for s in schema.get("anyOf", schema.get("oneOf", [])))


def py_name(name: str) -> str:
    return f"{name}_" if keyword.iskeyword(name) else name


def model_source(name: str, schema: dict[str, Any]) -> str:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    lines = [f"class {name}(msgspec.Struct, kw_only=True, omit_defaults=True):"]
    doc = schema.get("description")
    lines.append(f'    """{first_line(doc or name)}"""')
    for prop, sub in props.items():
        annotation = py_type(sub)
        attr = py_name(prop)
        rename = f", name={prop!r}" if attr != prop else ""
        if prop in required:
            default = ""
            if rename:
                default = f" = msgspec.field({rename[2:]})"
        else:
            if "None" not in annotation.split(" | "):
                annotation += " | None"
            value = default_literal(sub)
            if value in ("[]", "{}"):
                factory = "list" if value == "[]" else "dict"
                default = f" = msgspec.field(default_factory={factory}{rename})"
            else:
                default = f" = msgspec.field(default={value}{rename})" if rename else f" = {value}"
        lines.append(f"    {attr}: {annotation}{default}")
    if not props:
        lines.append("    pass")
    return "\n".join(lines)


def default_literal(schema: dict[str, Any]) -> str:
    if "default" in schema:
        return repr(schema["default"])
    return "None"


def first_line(text: str) -> str:
    return text.replace('"""', "'''").replace("\\", "\\\\").strip().splitlines()[0]


HEADER_MODELS = '''"""The API's models, as the OpenAPI document has them.

Written by clients/python/generate.py: do not edit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

'''
