"""The client cannot drift from the API: every operation of the served OpenAPI document has a method
on both clients with the operation's parameters, and every model matches its schema."""

from __future__ import annotations

import inspect
import re
from typing import Any

import msgspec
import persona_client
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from persona_client import OPERATIONS, AsyncPersonaClient, PersonaClient, models

REF = "#/components/schemas/"
OPENAI_COMPATIBLE = {"createChatCompletion", "listModels"}
"""The OpenAI drop-in's operations: their client is the ``openai`` package (docs/integrations.md)."""


@pytest.fixture
async def document(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        spec["operationId"]: (path, spec)
        for path, ops in document["paths"].items()
        for spec in ops.values()
        if spec["operationId"] not in OPENAI_COMPATIBLE
    }


def _resolve(root: object, dotted: str) -> Any:
    target = root
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def _expected(document: dict[str, Any], path: str, spec: dict[str, Any]) -> tuple[list[str], dict[str, bool]]:
    """Path parameters in path order, and keyword parameters -> required."""
    positional = re.findall(r"{(\w+)}", path)
    keywords = {p["name"]: bool(p.get("required")) for p in spec.get("parameters", []) if p["in"] == "query"}
    body = spec.get("requestBody")
    if body is not None:
        schema = body["content"]["application/json"]["schema"]
        if schema.get("type") == "array":
            keywords["<records>"] = True
        else:
            ref = schema.get("$ref") or next(s["$ref"] for s in schema["oneOf"] if "$ref" in s)
            target = document["components"]["schemas"][ref.removeprefix(REF)]
            required = set(target.get("required", []))
            keywords |= {name: name in required for name in target.get("properties", {})}
    return positional, keywords


def _actual(method: Any) -> tuple[list[str], dict[str, bool]]:
    positional: list[str] = []
    keywords: dict[str, bool] = {}
    for p in inspect.signature(method).parameters.values():
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(p.name)
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            keywords[p.name.rstrip("_")] = p.default is inspect.Parameter.empty
        else:
            raise AssertionError(
                f"{method.__qualname__}: {p.name} is neither positional-only nor keyword-only"
            )
    return positional, keywords


async def test_every_operation_has_a_method_and_every_method_an_operation(document: dict[str, Any]) -> None:
    operations = _operations(document)
    no_method, no_operation = set(operations) - set(OPERATIONS), set(OPERATIONS) - set(operations)
    assert not no_method and not no_operation, f"no method: {no_method}; no operation: {no_operation}"
    sync, asynchronous = PersonaClient(api_key="k"), AsyncPersonaClient(api_key="k")
    for dotted in OPERATIONS.values():
        for root in (sync, asynchronous):
            method = _resolve(root, dotted)
            assert callable(method), dotted
    sync.close()
    await asynchronous.close()


@pytest.mark.parametrize("client_class", [PersonaClient, AsyncPersonaClient])
async def test_every_method_takes_its_operations_parameters(
    document: dict[str, Any], client_class: type[Any]
) -> None:
    instance = client_class(api_key="k")
    wrong: list[str] = []
    for op_id, (path, spec) in _operations(document).items():
        method = _resolve(instance, OPERATIONS[op_id])
        positional, keywords = _actual(method)
        want_positional, want_keywords = _expected(document, path, spec)
        if "<records>" in want_keywords:  # a JSON array body: one keyword, named for the records
            del want_keywords["<records>"]
            records = [k for k in keywords if k not in want_keywords]
            assert len(records) == 1, f"{op_id}: {records}"
            assert keywords.pop(records[0]), f"{op_id}: the records are required"
        if positional != want_positional or keywords != want_keywords:
            wrong.append(f"{op_id}: {positional} {keywords} != {want_positional} {want_keywords}")
    assert not wrong, "\n".join(wrong)
    close = instance.close()
    if inspect.isawaitable(close):
        await close


def _struct_fields(kind: type[msgspec.Struct]) -> dict[str, bool]:
    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: f.required for f in info.fields}


async def test_every_model_matches_its_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    generated = {
        name
        for name, value in vars(models).items()
        if isinstance(value, type) and issubclass(value, msgspec.Struct)
    }
    assert generated == set(schemas), (
        f"missing: {sorted(set(schemas) - generated)}; extra: {sorted(generated - set(schemas))}"
    )
    for name, schema in schemas.items():
        required = set(schema.get("required", []))
        want = {prop: prop in required for prop in schema.get("properties", {})}
        assert _struct_fields(getattr(models, name)) == want, name


def test_the_package_stands_alone() -> None:
    """It never imports the server: apps install the client without it."""
    import sys

    source = inspect.getsource(persona_client)
    assert "persona_api" not in source
    for module in [m for n, m in sys.modules.items() if n.startswith("persona_client")]:
        assert "persona_api" not in inspect.getsource(module), module.__name__
