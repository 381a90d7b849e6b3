"""How the conversation memory names people: the user (``owner_name``), the speakers of one session
(``SpeakerNames``), and the people a text mentions by name (``named_subjects``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from persona_api.memory.tables import Partner
from persona_api.store.tables import User

_WORD = re.compile(r"[a-z0-9]+")


def owner_name(user: User) -> str:
    """How memories name the user: ``metadata.name`` when the client set it, else the user id."""
    name = user.attributes.get("name") if isinstance(user.attributes, dict) else None
    return name if isinstance(name, str) and name.strip() else user.external_id


@dataclass(frozen=True)
class SpeakerNames:
    owner: str
    by_external: dict[str, int]
    names: dict[int, str]

    @property
    def participants(self) -> tuple[str, ...]:
        return (self.owner, *self.names.values())

    def display(self, partner_id: int | None) -> str:
        return self.owner if partner_id is None else self.names[partner_id]

    def subject_id(self, name: str) -> int | None:
        for pid, partner_name in self.names.items():
            if partner_name == name:
                return pid
        return None


def named_subjects(user: User, partners: Iterable[Partner], text: str) -> set[int]:
    """Subjects (0 = the user, else partner ids) whose name appears in ``text``."""
    words = set(_WORD.findall(text.lower()))
    names = [(0, owner_name(user)), *((p.id, p.name) for p in partners)]
    return {sid for sid, name in names if any(part in words for part in _WORD.findall(name.lower()))}
