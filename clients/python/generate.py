"""Write ``persona_client/_models.py`` and ``persona_client/_resources.py`` from the OpenAPI document.

    python clients/python/generate.py                      # the document of the installed server
    python clients/python/generate.py --document doc.json  # a saved document

The models are msgspec Structs, one per component schema. The resources are one class per noun
(sync and async), one method per operation, named by ``NAMES`` below; the naming rule is in
docs/clients.md. Run it after an API change and commit what it writes: the client package itself
never reads the document, and ``tests/client/test_contract.py`` fails while the two disagree.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "persona_client"

NAMES: dict[str, str] = {
    # health
    "healthz": "health.live",
    "readyz": "health.ready",
    # admin
    "listTenants": "admin.tenants.list",
    "createTenant": "admin.tenants.create",
    "getTenant": "admin.tenants.get",
    "updateTenant": "admin.tenants.update",
    "deleteTenant": "admin.tenants.delete",
    "listApiKeys": "admin.keys.list",
    "issueApiKey": "admin.keys.create",
    "revokeApiKey": "admin.keys.revoke",
    # users
    "listUsers": "users.list",
    "createUser": "users.create",
    "getUser": "users.get",
    "updateUser": "users.update",
    "deleteUser": "users.delete",
    "exportUser": "users.export",
    # memory
    "listPartners": "partners.list",
    "createPartner": "partners.create",
    "deletePartnerMemories": "partners.delete_memories",
    "listSessions": "sessions.list",
    "createSession": "sessions.create",
    "getSession": "sessions.get",
    "listTurns": "turns.list",
    "appendTurns": "turns.append",
    "listMemories": "memories.list",
    "createMemory": "memories.create",
    "getMemory": "memories.get",
    "deleteMemory": "memories.delete",
    "getMemoryHistory": "memories.history",
    "searchMemories": "memories.search",
    # recommendations
    "listItems": "items.list",
    "upsertItems": "items.upsert",
    "getItem": "items.get",
    "deleteItem": "items.delete",
    "similarItems": "items.similar",
    "addInteractions": "interactions.add",
    "listInteractions": "interactions.list",
    "addReviews": "reviews.add",
    "recommendForUser": "recommendations.for_user",
    "recommendForSession": "recommendations.for_session",
    "userCode": "recommendations.user_code",
    # pairings
    "listIngredients": "ingredients.list",
    "upsertIngredients": "ingredients.upsert",
    "getIngredient": "ingredients.get",
    "listRecipes": "recipes.list",
    "upsertRecipes": "recipes.upsert",
    "getRecipe": "recipes.get",
    "deleteRecipe": "recipes.delete",
    "getFoodPreferences": "food_preferences.get",
    "setFoodPreferences": "food_preferences.put",
    "checkIngredients": "pairings.check",
    "completeIngredients": "pairings.complete",
    "missingIngredient": "pairings.missing",
    # values and chat
    "getValues": "values.get",
    "putValues": "values.put",
    "listValueVersions": "values.history",
    "getPartnerValues": "values.get_for_partner",
    "putPartnerValues": "values.put_for_partner",
    "deletePartnerValues": "values.delete_for_partner",
    "listPartnerValueVersions": "values.history_for_partner",
    "renderSystemMessage": "system_message",
    "chat": "chat",
    # preferences
    "listComparisons": "comparisons.list",
    "addComparisons": "comparisons.add",
    "deleteComparison": "comparisons.delete",
    "getPreferences": "preferences.get",
    "preferenceHistory": "preferences.history",
    "getObjective": "preferences.get_objective",
    "setObjective": "preferences.set_objective",
    "clearObjective": "preferences.clear_objective",
    "scoreCandidates": "preferences.score",
    "nextQuery": "preferences.next_query",
    "listObjectives": "population.objectives",
    "getPopulationPrior": "population.prior",
    "scoreCandidatesForPopulation": "population.score",
    "nextQueryForPopulation": "population.next_query",
}

OPENAI_COMPATIBLE = frozenset({"createChatCompletion", "listModels"})
"""The OpenAI drop-in's operations: the ``openai`` package is their client, so they have no method."""

BULK: dict[str, tuple[str, int]] = {
    # operationId -> (the list's parameter name, records per request)
    "appendTurns": ("turns", 200),
    "addComparisons": ("comparisons", 500),
    "upsertItems": ("items", 1000),
    "addInteractions": ("interactions", 1000),
    "addReviews": ("reviews", 500),
    "upsertIngredients": ("ingredients", 1000),
    "upsertRecipes": ("recipes", 1000),
}
"""Uploads sent in chunks; every record carries its client id, so a repeated chunk is a duplicate."""

REPEATABLE_POSTS = {
    *BULK,
    "searchMemories",
    "recommendForSession",
    "checkIngredients",
    "completeIngredients",
    "missingIngredient",
    "renderSystemMessage",
    "scoreCandidates",
    "nextQuery",
    "scoreCandidatesForPopulation",
    "nextQueryForPopulation",
}
"""POSTs safe to send twice: they only read, or their records carry client ids."""

REF = "#/components/schemas/"


def fetch_document() -> dict[str, Any]:
    """The OpenAPI document of the server installed here (built in a subprocess, as served)."""
    code = (
        "import json, tempfile, pathlib\n"
        "from litestar.testing import TestClient\n"
        "from persona_api.app import create_app\n"
        "from persona_api.config import Settings\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "s = Settings(database_url=f'sqlite+aiosqlite:///{d}/doc.db', models_dir=d / 'models',"
        " admin_token='x' * 32)\n"
        "with TestClient(create_app(s)) as c:\n"
        "    print(json.dumps(c.get('/schema/openapi.json').json()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    document: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return document


# -- types -----------------------------------------------------------------------------------


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
    lines.append(f'    """{_doc(doc or name)}"""')
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
            value = _default_literal(sub)
            if value in ("[]", "{}"):
                factory = "list" if value == "[]" else "dict"
                default = f" = msgspec.field(default_factory={factory}{rename})"
            else:
                default = f" = msgspec.field(default={value}{rename})" if rename else f" = {value}"
        lines.append(f"    {attr}: {annotation}{default}")
    if not props:
        lines.append("    pass")
    return "\n".join(lines)


def _default_literal(schema: dict[str, Any]) -> str:
    if "default" in schema:
        return repr(schema["default"])
    return "None"


def _doc(text: str) -> str:
    return text.replace('"""', "'''").replace("\\", "\\\\").strip().splitlines()[0]


# -- operations ------------------------------------------------------------------------------


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
                default = _default_literal(schema) if optional else "NOT_GIVEN"
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
                            op.params.append(Param(prop, "body", annotation, False, _default_literal(sub)))
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


# -- rendering -------------------------------------------------------------------------------


def method_source(op: Operation, *, is_async: bool, name: str) -> str:
    required = [p for p in op.params if p.where == "path"]
    keywords = [p for p in op.params if p.where != "path"]
    keywords.sort(key=lambda p: not p.required)
    args = ["self", *(f"{p.arg}: {p.annotation}" for p in required)]
    if required:
        args.append("/")
    if keywords:
        args.append("*")
    for p in keywords:
        args.append(f"{p.arg}: {p.annotation}" + ("" if p.required else f" = {p.default}"))
    result = re.sub(r"\blist\[", "builtins.list[", op.result)  # a method may be named list
    if op.page is not None:
        result = f"AsyncPage[{op.page}]" if is_async else f"Page[{op.page}]"
    prefix = "async def" if is_async else "def"
    if op.page is not None and is_async:
        prefix = "def"  # an async page is fetched by iterating or awaiting it
    lines = [f"    {prefix} {name}({', '.join(args)}) -> {result}:"]
    lines.append(f'        """{_doc(op.summary or op.operation_id)} (``{op.method} {op.path}``)."""')
    path_args = ", ".join(f"{p.name!r}: {p.arg}" for p in required)
    query = ", ".join(f"{p.name!r}: {p.arg}" for p in keywords if p.where == "query")
    body_fields = [p for p in keywords if p.where == "body"]
    call = [f"OPERATION_SPECS[{op.operation_id!r}]", f"{{{path_args}}}", f"query={{{query}}}"]
    await_ = "await " if is_async else ""
    if op.page is not None:
        query_rest = ", ".join(f"{p.name!r}: {p.arg}" for p in keywords if p.where == "query")
        lines.append(
            f"        return self._client._page(OPERATION_SPECS[{op.operation_id!r}], {{{path_args}}}, "
            f"query={{{query_rest}}}, item={op.page})"
        )
        return "\n".join(lines)
    if op.bulk is not None:
        records, _ = op.bulk
        others = ", ".join(f"{p.name!r}: {p.arg}" for p in body_fields if p.name != records)
        call += [f"records={py_name(records)}", f"fields={{{others}}}", f"type={result}"]
        lines.append(f"        return {await_}self._client._bulk({', '.join(call)})")
        return "\n".join(lines)
    if body_fields:
        body = ", ".join(f"{p.name!r}: {p.arg}" for p in body_fields)
        call.append(f"body={{{body}}}")
    if result == "None":
        lines.append(f"        {await_}self._client._void({', '.join(call)})")
    else:
        call.append(f"type={result}")
        lines.append(f"        return {await_}self._client._call({', '.join(call)})")
    return "\n".join(lines)


def resources_source(ops: list[Operation]) -> str:
    tree: dict[str, Any] = {}
    for op in ops:
        *namespaces, _ = op.dotted.split(".")
        node = tree
        for part in namespaces:
            node = node.setdefault(part, {})
        node.setdefault("", []).append(op)
    out = [HEADER_RESOURCES]
    out.append("OPERATION_SPECS: dict[str, OperationSpec] = {")
    for op in ops:
        path_names = tuple(p.name for p in op.params if p.where == "path")
        out.append(
            f"    {op.operation_id!r}: OperationSpec({op.operation_id!r}, {op.method!r}, {op.path!r}, "
            f"repeatable={op.repeatable!r}, body_is_list={op.body_is_list!r}, path_params={path_names!r}"
            + (f", chunk_field={op.bulk[0]!r}, chunk_records={op.bulk[1]!r}" if op.bulk else "")
            + "),"
        )
    out.append("}\n")
    out.append("OPERATIONS: dict[str, str] = {")
    for op in sorted(ops, key=lambda o: o.operation_id):
        out.append(f"    {op.operation_id!r}: {op.dotted!r},")
    out.append("}")
    out.append('"""Every operationId of the API to the dotted path of its method on a client."""\n')
    for is_async in (False, True):
        _render_namespace(tree, [], is_async, out)
    return "\n".join(out) + "\n"


def _class_name(parts: list[str], is_async: bool) -> str:
    base = "".join(p.title().replace("_", "") for p in parts) or "Root"
    return f"{'Async' if is_async else ''}{base}Resource"


def _render_namespace(node: dict[str, Any], parts: list[str], is_async: bool, out: list[str]) -> None:
    for child, sub in sorted(node.items()):
        if child:
            _render_namespace(sub, [*parts, child], is_async, out)
    cls = _class_name(parts, is_async)
    client = "AsyncTransport" if is_async else "SyncTransport"
    lines = [f"class {cls}:"]
    lines.append(f'    """``client{"." if parts else ""}{".".join(parts)}``."""\n')
    lines.append(f"    def __init__(self, client: {client}) -> None:")
    lines.append("        self._client = client")
    for child in sorted(k for k in node if k):
        lines.append(f"        self.{child} = {_class_name([*parts, child], is_async)}(client)")
    for op in node.get("", []):
        name = op.dotted.rsplit(".", 1)[-1]
        if op.operation_id == "chat":
            continue  # hand-written in _client.py (it streams)
        lines.append("")
        lines.append(method_source(op, is_async=is_async, name=name))
    out.append("\n".join(lines) + "\n\n")


HEADER_MODELS = '''"""The API's models, as the OpenAPI document has them.

Written by clients/python/generate.py: do not edit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

'''

HEADER_RESOURCES = '''"""The API's operations as methods of the clients' namespaces.

Written by clients/python/generate.py: do not edit.
"""

# ruff: noqa: E501

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

{model_imports}
from persona_client._paging import AsyncPage, Page
from persona_client._transport import NOT_GIVEN, AsyncTransport, NotGiven, OperationSpec, SyncTransport

'''


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--document", type=Path, help="a saved OpenAPI document (default: build it)")
    args = parser.parse_args()
    document = json.loads(args.document.read_text()) if args.document else fetch_document()
    schemas = document["components"]["schemas"]
    models = [HEADER_MODELS, *(model_source(n, s) + "\n\n" for n, s in sorted(schemas.items()))]
    (PACKAGE / "_models.py").write_text("\n".join(models).rstrip() + "\n")
    ops = operations(document)
    missing = set(NAMES) - {op.operation_id for op in ops}
    if missing:
        raise SystemExit(f"NAMES has operations the API lacks: {sorted(missing)}")
    source = resources_source(ops)
    used = sorted(n for n in schemas if re.search(rf"\b{n}\b", source))
    source = source.replace("{model_imports}", f"from persona_client._models import {', '.join(used)}")
    (PACKAGE / "_resources.py").write_text(source)
    subprocess.run(["ruff", "check", "-q", "--fix", "--select", "I,F401", str(PACKAGE)], check=False)
    subprocess.run(["ruff", "format", "-q", str(PACKAGE)], check=False)
    print(f"{len(schemas)} models, {len(ops)} operations")


if __name__ == "__main__":
    main()
