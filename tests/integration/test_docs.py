"""The documentation tells the truth: every setting is documented, and the README's quickstart runs.

The quickstart is the ``## Quickstart`` section of the README: its ```bash blocks, in order, run
verbatim as one ``bash -euo pipefail`` script against a fresh ``persona-api serve``. The blocks
read ``BASE`` from the environment, so nothing is rewritten before they run.

Like the other tests that start ``serve`` as a subprocess, this one runs the embedded default
(SQLite in a temporary folder) even when ``PERSONA_TEST_DATABASE_URL`` points the in-process
tests at PostgreSQL: that database belongs to the in-process fixtures, which reset it, and the
quickstart is written for the zero-configuration start.
"""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.llm_server import FakeLLM, Reply

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "persona_api" / "config.py"
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"
QUICKSTART_HEADING = "## Quickstart"
LLM_REPLY = "Try a kayak trip on the Tagus this weekend."


def setting_names(source: str) -> set[str]:
    """Every ``PERSONA_*`` name written in ``config.py``, and the variable of every ``Settings``
    field (``PERSONA_<FIELD>``), which the loader derives without spelling it out."""
    names = set(re.findall(r"\bPERSONA_[A-Z0-9_]*[A-Z0-9]\b", source))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    names.add(f"PERSONA_{statement.target.id.upper()}")
    return names


def test_every_setting_is_documented() -> None:
    names = setting_names(CONFIG.read_text(encoding="utf-8"))
    assert len(names) > 30, "the scan of config.py found too few settings to be right"
    doc = CONFIGURATION_DOC.read_text(encoding="utf-8")
    missing = sorted(n for n in names if not re.search(rf"(?<![A-Z0-9_]){n}(?![A-Z0-9_])", doc))
    assert not missing, f"docs/configuration.md does not mention: {', '.join(missing)}"


def quickstart_blocks(readme: str) -> list[str]:
    """The ```bash blocks between the quickstart heading and the next level-2 heading."""
    start = re.search(rf"^{re.escape(QUICKSTART_HEADING)}\s*$", readme, re.M)
    assert start, f"README.md has no {QUICKSTART_HEADING!r} heading"
    rest = readme[start.end() :]
    end = re.search(r"^## ", rest, re.M)
    section = rest[: end.start()] if end else rest
    return re.findall(r"^```bash\n(.*?)^```", section, re.M | re.S)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def test_readme_quickstart_runs_against_serve(tmp_path: Path, llm_server: FakeLLM) -> None:
    blocks = quickstart_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 8, f"the quickstart has only {len(blocks)} bash blocks"
    llm_server.default = Reply(content=LLM_REPLY)

    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    env |= {
        "PYTHONUNBUFFERED": "1",
        # `persona-api` and `python3` from this interpreter, whatever the caller's PATH holds.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PERSONA_LLM_BASE_URL": llm_server.base_url,
        "PERSONA_LLM_MODEL": "quickstart-model",
        # The documented way to keep memories extracted at once with an LLM configured.
        "PERSONA_LLM_EXTRACT_MEMORIES": "false",
        "PERSONA_ARTIFACT_POLL_SECONDS": "1",
    }
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "persona_api", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(base):
            if server.poll() is not None:
                pytest.fail(f"serve exited early:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not answer /healthz within 60 s:\n{_tail(log)}")
            time.sleep(0.2)

        script = "\n".join(blocks)
        try:
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=tmp_path,
                env=env | {"BASE": base},
                capture_output=True,
                text=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the quickstart did not finish within 120 s; its stderr:\n{exc.stderr!r}")
        assert result.returncode == 0, (
            f"the quickstart failed (exit {result.returncode}); its stderr:\n{result.stderr}\n"
            f"its last output:\n{result.stdout[-2000:]}\nserve's last log lines:\n{_tail(log)}"
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    lines = result.stdout.strip().splitlines()
    # The trained model answered, the chat went through the LLM, and the user is gone at the end.
    assert '"strategy":"sequential"' in result.stdout
    chat = next(json.loads(line) for line in lines if '"memories_used"' in line)
    assert chat["message"] == {"role": "assistant", "content": LLM_REPLY}
    assert lines[-2] == "204"
    gone = json.loads(lines[-1])
    assert gone["status"] == 404 and gone["type"] == "urn:persona-api:problem:not-found"
    assert any(r.path == "/v1/chat/completions" for r in llm_server.requests)
