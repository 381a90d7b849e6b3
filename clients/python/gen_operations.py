"""The API's operations, read from the OpenAPI document into what the renderer needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gen_naming import BULK, NAMES, OPENAI_COMPATIBLE, REPEATABLE_POSTS
from gen_types import REF, default_literal, py_name, py_type


@dataclass
class Param:
    name: str
    """The wire name."""
    where: str  # path, query, body
    annotation: str
    required: bool
    default: str = "NOT_GIVEN"

    @property
    def arg(self) -> str:
        return py_name(self.name)


@dataclass
class Operation:
    operation_id: str
    dotted: str
    method: str
    path: str
    params: list[Param] = field(default_factory=list)
    result: str = "None"
    page: str | None = None
    """The item model of a paginated list."""
    bulk: tuple[str, int] | None = None
    body_is_list: bool = False
    summary: str = ""

    @property
    def repeatable(self) -> bool:
        return self.method != "POST" or self.operation_id in REPEATABLE_POSTS


def operations(document: dict[str, Any]) -> list[Operation]:
    schemas = document["components"]["schemas"]
    found: list[Operation] = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            op_id = spec["operationId"]
            if op_id in OPENAI_COMPATIBLE:
                continue
            if op_id not in NAMES:
                raise SystemExit(f"operation {op_id} has no name in NAMES: add one")
            op = Operation(op_id, NAMES[op_id], method.upper(), path, summary=spec.get("summary", ""))
            declared = {p["name"]: p for p in spec.get("parameters", []) if p["in"] in ("path", "query")}
            for name in re.findall(r"{(\w+)}", path):  # path order
                op.params.append(Param(name, "path", "str" if name != "memory_id" else "int", True))
            for p in declared.values():
                if p["in"] != "query":
                    continue
                schema = p.get("schema", {})
                optional = not p.get("required", False)
                annotation = py_type(schema, accept=True)
                default = default_literal(schema) if optional else "NOT_GIVEN"
                if optional and "default" not in schema and "None" not in annotation.split(" | "):
                    annotation += " | None"
                op.params.append(Param(p["name"], "query", annotation, not optional, default))
            body = spec.get("requestBody")
            if body is not None:
                content = body["content"]["application/json"]["schema"]
                if op_id in BULK:
                    op.bulk = BULK[op_id]
                    declared_max = _max_items(content, schemas)
                    if declared_max is not None and declared_max < op.bulk[1]:
                        raise SystemExit(f"{op_id}: BULK sends {op.bulk[1]}, the API takes {declared_max}")
                if content.get("type") == "array":
                    op.body_is_list = True
                    item = py_type(content["items"], accept=True)
                    op.params.append(Param(BULK[op_id][0], "body", f"Iterable[{item}]", True))
                else:
                    ref = content.get("$ref") or next(s["$ref"] for s in content["oneOf"] if "$ref" in s)
                    target = schemas[ref.removeprefix(REF)]
                    required = set(target.get("required", []))
                    for prop, sub in target.get("properties", {}).items():
                        annotation = py_type(sub, accept=True)
                        if op.bulk is not None and prop == op.bulk[0]:
                            annotation = annotation.replace("Sequence[", "Iterable[", 1)
                        if prop in required:
                            op.params.append(Param(prop, "body", annotation, True))
                        else:
                            if "default" not in sub and "None" not in annotation.split(" | "):
                                annotation += " | None"
                            op.params.append(Param(prop, "body", annotation, False, default_literal(sub)))
            op.result, op.page = _result(spec)
            found.append(op)
    return found


def _max_items(content: dict[str, Any], schemas: dict[str, Any]) -> int | None:
    """The records a bulk body may hold, as the document declares it (None: not declared)."""
    arrays = [content] if content.get("type") == "array" else []
    ref = content.get("$ref", "")
    arrays += [p for p in schemas.get(ref.removeprefix(REF), {}).get("properties", {}).values()]
    limits = [int(a["maxItems"]) for a in arrays if a.get("type") == "array" and "maxItems" in a]
    return limits[0] if limits else None


def _result(spec: dict[str, Any]) -> tuple[str, str | None]:
    for status, response in sorted(spec["responses"].items()):
        if not status.startswith("2"):
            continue
        schema = (response.get("content") or {}).get("application/json", {}).get("schema")
        if schema is None:
            return "None", None
        props = schema.get("properties", {})
        if {"items", "total", "limit", "offset"} <= props.keys():
            item = py_type(props["items"]["items"])
            return f"Page[{item}]", item
        return py_type(schema), None
    return "None", None
