"""The command line as a new user meets it: `persona-api serve` with no configuration, a curl
walkthrough against it, and `persona-api reindex` hot-swapped into the running API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _get(url: str, key: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _post(url: str, body: Any, key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def write_flavor_files(folder: Path) -> None:
    """A tiny flavor-network bundle in the Ahn et al. formats (the demo loader's input)."""
    folder.mkdir()
    (folder / "ingr_info.tsv").write_text(
        "# id\tingredient name\tcategory\n0\tsoy_sauce\tplant derivative\n1\tginger\tspice\n"
        "2\tscallion\tvegetable\n3\trice\tcereal/crop\n"
    )
    (folder / "comp_info.tsv").write_text("# id\tCompound name\tCAS number\n0\tgingerol\t23513-14-6\n")
    (folder / "ingr_comp.tsv").write_text("# ingredient id\tcompound id\n1\t0\n")
    rows = ["EastAsian,soy_sauce,ginger,scallion", "EastAsian,rice,scallion,soy_sauce"] * 4
    (folder / "recipes_by_region_s3equiv.csv").write_text("# region,ingredients\n" + "\n".join(rows) + "\n")


WALKTHROUGH = Path(__file__).with_name("cli_walkthrough.sh")


def walkthrough_script(base: str) -> str:
    """Users, memory, recommendations and pairings over curl (the README's quickstart is run by
    test_docs.py; this script makes the data the assertions below expect)."""
    return f"BASE={base}\n" + WALKTHROUGH.read_text()


class Served:
    def __init__(self, base: str, cwd: Path, process: subprocess.Popen[str]) -> None:
        self.base, self.cwd, self.process = base, cwd, process

    def stop(self) -> str:
        """Stop the server gracefully and return everything it logged."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.stdout.read() if self.process.stdout else ""


def start_serve(cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """``persona-api serve`` on a free port, once it answers ``/healthz``; its process and base URL
    (the caller stops it)."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "persona_api", "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"serve exited early:\n{server.stdout.read() if server.stdout else ''}")
        try:
            if _get(f"{base}/healthz")[0] == 200:
                return server, base
        except OSError:
            time.sleep(0.2)
    server.kill()
    pytest.fail("serve did not answer /healthz within 60 s")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server, base = start_serve(tmp_path, _clean_env())
    try:
        yield Served(base, tmp_path, server)
    finally:
        Served(base, tmp_path, server).stop()
        if server.stdout:
            server.stdout.close()


def test_serve_with_no_configuration_then_quickstart_then_reindex(served: Served) -> None:
    base, cwd = served.base, served.cwd
    assert (cwd / "var" / "persona.db").is_file()
    assert (cwd / "var" / "admin_token").stat().st_mode & 0o777 == 0o600
    # Ready once the embedding model, preloaded in the background, has loaded (503 until then).
    deadline = time.monotonic() + 90
    while (status_ready := _get(f"{base}/readyz"))[0] != 200 and time.monotonic() < deadline:
        assert status_ready[1]["embedding_model"] == "loading", status_ready
        time.sleep(0.2)
    status, ready = _get(f"{base}/readyz")
    assert status == 200 and ready["status"] == "ready" and ready["artifact_version"] is None
    assert ready["embedding_model"] == "ready" and ready["artifacts"] == "none"
    with urllib.request.urlopen(f"{base}/schema", timeout=5) as ui:
        assert ui.status == 200 and b"<html" in ui.read().lower()

    result = subprocess.run(
        ["bash", "-c", walkthrough_script(base)], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 60  # serve preloads the embedding model in the background
    while _get(f"{base}/readyz")[1]["embedding_model"] == "loading" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _get(f"{base}/readyz")[1]["embedding_model"] == "ready"
    quick, memory, recs, pairings, key = result.stdout.split("---\n")
    lines = quick.strip().splitlines()
    created = json.loads(lines[0])
    assert created["id"] == "alice" and created["metadata"] == {"locale": "en"}
    assert json.loads(lines[1])["metadata"] == {"locale": "en", "plan": "pro"}
    assert json.loads(lines[2])["total"] == 1
    assert json.loads(lines[3])["user"]["id"] == "alice"
    assert lines[4] == "204"
    assert json.loads(lines[5])["status"] == 404
    partner, session, ingest, found = (json.loads(line) for line in memory.strip().splitlines())
    assert partner["name"] == "Bob" and session["ordinal"] == 1 and ingest["accepted"] == ["t1", "t2"]
    top = found["results"][0]["memory"]
    assert "Lisbon" in top["text"] and top["about"] == "Bob" and "t1" in top["source_turn_ids"]
    items, events, cold, session = (json.loads(line) for line in recs.strip().splitlines())
    ingredients, recipes, preferences = (json.loads(line) for line in pairings.strip().splitlines())
    assert ingredients["created"] == 7 and recipes["ids"] == [f"r{i}" for i in range(1, 7)]
    assert preferences == {"dislikes": ["basil"], "allergies": []}
    status, early = _post(f"{base}/v1/pairings/complete", {"ingredients": ["tomato"]}, key.strip())
    assert status == 503 and "reindex" in early["detail"]

    demo = subprocess.run(
        [sys.executable, "-m", "persona_api", "demo", "load-recipes", str(cwd / "flavor")],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 2 and "not found" in demo.stderr
    write_flavor_files(cwd / "flavor")
    demo = subprocess.run(
        [sys.executable, "-m", "persona_api", "demo", "load-recipes", str(cwd / "flavor")],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 0, demo.stderr
    assert "4 ingredients, 8 recipes" in demo.stdout and "load-recipes" in demo.stderr
    demo_key = demo.stdout.split("API key (shown once): ", 1)[1].split()[0]
    assert items["created"] == 4 and events == {"accepted": 7, "duplicates": 0, "users_created": 3}
    # Before training: popular items, without erin's own tent and the kettle she disliked.
    assert cold["strategy"] == "popular" and [i["id"] for i in cold["items"]] == ["bag", "stove"]
    assert [i["id"] for i in session["items"]] == ["bag", "stove"]

    job = subprocess.run(
        [sys.executable, "-m", "persona_api", "reindex"],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert job.returncode == 0, job.stderr
    version = job.stdout.strip().splitlines()[-1]
    assert (cwd / "models" / "CURRENT").read_text().strip() == version
    manifest = json.loads((cwd / "models" / version / "manifest.json").read_text())
    assert manifest["input_rows"]["tenants"] == 2
    deadline = time.monotonic() + 20  # the API polls CURRENT every 5 s by default
    while _get(f"{base}/readyz")[1]["artifact_version"] != version and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _get(f"{base}/readyz")[1]["artifact_version"] == version
    status, trained = _get(f"{base}/v1/users/erin/recommendations?k=3", key.strip())
    assert status == 200, trained
    assert trained["strategy"] == "sequential" and trained["model_version"] == version
    assert {i["id"] for i in trained["items"]} == {"bag", "stove"}
    # The walkthrough's pairing example after training: carol dislikes basil, so olive oil comes first.
    status, paired = _post(
        f"{base}/v1/pairings/complete",
        {"ingredients": ["tomato", "garlic"], "k": 3, "user": "carol"},
        key.strip(),
    )
    assert status == 200, paired
    assert paired["suggestions"][0]["ingredient"] == "olive oil" and paired["avoided"] == ["basil"]
    status, checked = _post(
        f"{base}/v1/pairings/check", {"ingredients": ["tomato", "vanilla", "garlic"]}, key.strip()
    )
    # Six recipes are too little evidence to advise against anything: the score leans, no more.
    pair = next(p for p in checked["pairs"] if {p["a"], p["b"]} == {"tomato", "vanilla"})
    assert status == 200 and pair["together"] == 0 and pair["shared_compounds"] == 0
    assert (
        pair["score"]
        < 0
        < next(p["score"] for p in checked["pairs"] if {p["a"], p["b"]} == {"tomato", "garlic"})
    )
    assert checked["advise_against"] == []
    status, demo_pairs = _post(
        f"{base}/v1/pairings/missing", {"ingredients": ["ginger", "soy sauce"]}, demo_key
    )
    assert status == 200 and demo_pairs["suggestions"][0]["ingredient"] == "scallion"

    # Structured logs: one JSON object per line, each request with its id, no user content.
    entries = [json.loads(line) for line in served.stop().splitlines() if line.strip()]
    assert entries and all({"ts", "level", "logger", "event"} <= e.keys() for e in entries)
    requests = [e for e in entries if e["event"] == "request.completed"]
    assert len(requests) >= 8 and all(len(e["request_id"]) == 32 for e in requests)
    assert any(e["event"] == "artifacts.loaded" and e.get("version") == version for e in entries)
    assert not any("alice" in json.dumps(e) and e["event"] != "request.completed" for e in entries)


def test_reindex_against_an_unreachable_database_fails_cleanly(tmp_path: Path) -> None:
    env = _clean_env() | {"PERSONA_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    job = subprocess.run(
        [sys.executable, "-m", "persona_api", "reindex"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert job.returncode == 1
    last = job.stderr.strip().splitlines()[-1]
    assert last.startswith("persona-api reindex: re-index step 'tenants' failed")
    assert "ConnectionRefusedError" in last
    assert not (tmp_path / "models" / "CURRENT").exists()


def test_bad_configuration_is_reported_by_name(tmp_path: Path) -> None:
    env = _clean_env() | {"PERSONA_PORTT": "1"}
    job = subprocess.run(
        [sys.executable, "-m", "persona_api", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert job.returncode == 2
    assert "PERSONA_PORTT" in job.stderr
