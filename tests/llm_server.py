"""A real loopback HTTP server speaking OpenAI's ``POST /v1/chat/completions``, for tests.

Each request takes the next :class:`Reply` from the script (or, when the script is empty, the one
:attr:`FakeLLM.respond` makes from the request, or else :attr:`FakeLLM.default`): a status code
with an error body, a JSON completion, or - when the request asks for ``"stream": true`` -
server-sent events with the content split into chunks, a usage chunk and ``data: [DONE]``. A reply
can wait first (timeouts), drop the connection mid-stream, or reset it (before answering or
mid-stream). Every request's path, headers and JSON body are recorded in :attr:`FakeLLM.requests`.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    content: str = "Hello there!"
    chunks: list[str] | None = None
    """Stream deltas; default: ``content`` split into words (with their spaces)."""
    delay: float = 0.0
    """Seconds to wait before answering (interrupted when the server stops)."""
    chunk_delay: float = 0.0
    """Streaming: seconds to wait before each content chunk (a slow model)."""
    drop_after: int | None = None
    """Streaming: close the socket after this many content chunks, without ``[DONE]``."""
    stall_after: int | None = None
    """Streaming: after this many content chunks, send nothing for ``stall_seconds`` (a model that
    stops mid-answer), then go on if the client is still there."""
    stall_seconds: float = 3.0
    reset_after: int | None = None
    """Reset the connection (TCP RST) after this many content chunks; 0: instead of any answer."""
    reset_pause: float = 0.25
    """Seconds between the last chunk and a mid-stream reset (keep it under the client's read timeout)."""
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"
    tool_calls: list[dict[str, Any]] | None = None
    """Non-streamed: tool calls of the answer's message, sent as given."""
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (cancelled or timed-out requests) are what several tests do on
        purpose: no traceback for those; anything else is printed as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    client_port: int
    """The client's source port: equal ports mean a reused (pooled) connection."""


class FakeLLM:
    """Start with :meth:`start`, stop with :meth:`stop`; :attr:`base_url` ends in ``/v1``."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.respond: Callable[[dict[str, Any]], Reply] | None = None
        """When set, the reply to a request the script has none for, made from its JSON body."""
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.script:
                return self.script.popleft()
            return self.respond(recorded.body) if self.respond is not None else self.default

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _handler_for(llm: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw) if raw else {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorded = Recorded(self.path, headers, body, int(self.client_address[1]))
            reply = llm._next(recorded)
            try:
                if reply.delay and llm.stopping.wait(reply.delay):
                    return
                if self.path != "/v1/chat/completions":
                    self._json(404, {"error": {"message": "no such route"}}, {})
                elif reply.reset_after == 0:
                    self._reset()
                elif reply.status != 200:
                    self._json(reply.status, {"error": {"message": "scripted failure"}}, reply.headers)
                elif body.get("stream"):
                    self._stream(reply, body)
                else:
                    self._json(200, _completion(reply, body), reply.headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                llm._done()

        def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _reset(self) -> None:
            """Close the socket at once with a TCP RST (no FIN, no answer)."""
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(self.connection.detach())  # now, not when the handler's file objects close

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            model = body.get("model", "fake")
            self._chunk(b": keep-alive\n\n")
            deltas = reply.chunks if reply.chunks is not None else _words(reply.content)
            for i, delta in enumerate(deltas):
                if reply.chunk_delay and llm.stopping.wait(reply.chunk_delay):
                    return
                if reply.drop_after is not None and i >= reply.drop_after:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if i == reply.stall_after and llm.stopping.wait(reply.stall_seconds):
                    return
                if reply.reset_after is not None and i >= reply.reset_after:
                    # Mid-stream, first give the client time to read what was sent: a TCP RST
                    # makes the receiving kernel drop data not yet read, so on a busy machine the
                    # chunks already sent could vanish and the reset look like one before any answer.
                    if i > 0 and llm.stopping.wait(reply.reset_pause):
                        return
                    self._reset()
                    return
                event = {"object": "chat.completion.chunk", "model": model}
                event["choices"] = [{"index": 0, "delta": {"content": delta}, "finish_reason": None}]
                self._chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
            last = {"object": "chat.completion.chunk", "model": model}
            last["choices"] = [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]
            self._chunk(b"data: " + json.dumps(last).encode() + b"\n\n")
            usage = {"object": "chat.completion.chunk", "model": model, "choices": [], "usage": reply.usage}
            self._chunk(b"data: " + json.dumps(usage).encode() + b"\n\n")
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

    return Handler


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + " " for p in parts[:-1]] + [parts[-1]]


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content}
                | ({"tool_calls": reply.tool_calls} if reply.tool_calls else {}),
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": reply.usage,
    }
