"""Write ``persona_client/_models.py`` and ``persona_client/_resources.py`` from the OpenAPI document.

    python clients/python/generate.py                      # the document of the installed server
    python clients/python/generate.py --document doc.json  # a saved document

The models are msgspec Structs, one per component schema. The resources are one class per noun
(sync and async), one method per operation, named by ``NAMES`` in gen_naming.py; the naming rule is in
docs/clients.md. Run it after an API change and commit what it writes: the client package itself
never reads the document, and ``tests/client/test_contract.py`` fails while the two disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from gen_naming import NAMES
from gen_operations import Operation, operations
from gen_types import HEADER_MODELS, first_line, model_source, py_name

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "persona_client"


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
    lines.append(f'        """{first_line(op.summary or op.operation_id)} (``{op.method} {op.path}``)."""')
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
from persona_client._spec import OperationSpec
from persona_client._transport import NOT_GIVEN, AsyncTransport, NotGiven, SyncTransport

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
