from __future__ import annotations

import json
import logging

from persona_api.logs import JsonFormatter, request_id_var


def test_json_lines_carry_event_fields_and_request_id() -> None:
    record = logging.makeLogRecord(
        {
            "name": "persona_api.users",
            "levelname": "INFO",
            "msg": "user.deleted",
            "tenant_id": "ten_1",
            "removed": 3,
        }
    )
    token = request_id_var.set("req-1")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["event"] == "user.deleted" and entry["level"] == "info"
    assert entry["tenant_id"] == "ten_1" and entry["removed"] == 3
    assert entry["request_id"] == "req-1"
    assert "msg" not in entry and "args" not in entry
