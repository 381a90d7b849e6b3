"""``serve`` with an LLM runs memory extraction in a ``persona-api worker`` child process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.integration.test_cli import _clean_env, _get, _post, start_serve
from tests.integration.test_llm_extraction import answer
from tests.llm_server import FakeLLM, Reply

ADMIN = "worker-test-admin-token-0123"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> dict[str, int]:
    """The ``persona-api`` subcommands whose parent is ``pid``, with their process ids (from /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == pid and len(argv) > 3:
            found[argv[3].decode()] = int(stat.parent.name)  # python -m persona_api <command>
    return found


def test_serve_extracts_memories_in_a_worker_process_and_stops_it(
    tmp_path: Path, llm_server: FakeLLM
) -> None:
    llm_server.default = Reply(content=answer(("Caroline moved to Lisbon.", "Caroline", "event")))
    env = {
        **_clean_env(),
        "PERSONA_LLM_BASE_URL": llm_server.base_url,
        "PERSONA_LLM_MODEL": "fake-model",
        "PERSONA_ADMIN_TOKEN": ADMIN,
        "PERSONA_PRELOAD_MODELS": "false",
    }
    server, base = start_serve(tmp_path, env)
    try:
        _, tenant = _post(f"{base}/v1/admin/tenants", {"name": "w"}, ADMIN)
        _, issued = _post(f"{base}/v1/admin/tenants/{tenant['id']}/keys", {}, ADMIN)
        key = issued["key"]
        assert _post(f"{base}/v1/users", {"id": "carol", "metadata": {"name": "Caroline"}}, key)[0] == 201
        assert _post(f"{base}/v1/users/carol/partners", {"id": "mel", "name": "Melanie"}, key)[0] == 201
        assert _post(f"{base}/v1/users/carol/sessions", {"id": "s1", "partners": ["mel"]}, key)[0] == 201
        turns = {"turns": [{"id": "t1", "speaker": "user", "text": "I moved to Lisbon last month."}]}
        status, ingest = _post(f"{base}/v1/users/carol/sessions/s1/turns", turns, key)
        assert status == 201 and ingest["memories"] == []  # queued for the worker, not extracted inline

        deadline = time.monotonic() + 90  # the worker loads its own embedding model first
        texts: list[str] = []
        while time.monotonic() < deadline and not texts:
            texts = [m["text"] for m in _get(f"{base}/v1/users/carol/memories", key)[1]["items"]]
            time.sleep(0.3)
        assert texts == ["Caroline moved to Lisbon."]
        # The worker yields the CPU to the API: it runs PERSONA_LLM_EXTRACT_NICE (10) nicer.
        children = _children(server.pid)
        assert set(children) == {"worker", "webhooks"}  # the webhook sender runs beside it
        child = children["worker"]
        expected = min(19, os.getpriority(os.PRIO_PROCESS, server.pid) + 10)
        assert os.getpriority(os.PRIO_PROCESS, child) == expected
        assert any("turn" in json.loads(r.body["messages"][1]["content"]) for r in llm_server.requests)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    for name in ("memory_worker", "webhook_sender"):
        spawned = [json.loads(line) for line in output.splitlines() if f'"{name}.spawned"' in line]
        assert len(spawned) == 1, output[-3000:]
        deadline = time.monotonic() + 10
        while _pid_alive(spawned[0]["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _pid_alive(spawned[0]["pid"]), f"the {name} outlived serve"
