"""Relative date phrases in conversation text, made absolute from the time of the turn.

``resolve_relative_dates`` keeps each phrase ("yesterday", "two weeks ago", "last summer", "next Friday")
and appends the date it means in parentheses, so a memory read months later still says when: "I went
yesterday" on 8 May 2023 becomes "I went yesterday (7 May 2023)". Plain ``re`` and ``datetime``, with
English number words and seasons; vague phrases ("a few days ago", "the other day") say "around" or
"a few days before".
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

__all__ = ["MONTHS", "WEEKDAYS", "format_day", "resolve_relative_dates"]


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_COUNTS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "couple of": 2, "a few": 3, "few": 3, "several": 3,
}  # fmt: skip
_COUNT_ALT = "|".join(sorted((re.escape(k) for k in _COUNTS), key=len, reverse=True))
_REL_DATE_RE = re.compile(
    r"(?i)\b(?:"
    r"(?P<word>the day before yesterday|the day after tomorrow|the other day|yesterday|today|tonight"
    r"|tomorrow|last night|this (?:morning|afternoon|evening))"
    rf"|(?P<n>\d{{1,3}}|{_COUNT_ALT})\s+(?P<unit>day|week|month|year)s?\s+ago"
    r"|(?P<which>last|this|next)\s+(?P<what>weekend|week|month|year|"
    + "|".join((*WEEKDAYS, *_SEASONS, r"mon|tues?|wed|thu(?:rs?)?|fri|sat"))
    + r"))\b(?!\s*\()"
)


_DATE_TRIGGERS = ("yesterday", "today", "tonight", "tomorrow", "ago", "last ", "this ", "next ", "other day")


def format_day(day: date) -> str:
    """``7 May 2023``: the form every resolved date takes."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _shift_months(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def _season(day: date, which: str, name: str) -> str:
    """The season instance meant by "last/this/next <season>", e.g. "summer 2023"."""
    start_month = _SEASONS[name]
    starts = [date(y, start_month, 1) for y in range(day.year - 2, day.year + 2)]
    ends = [date(*_shift_months(s, 3), 1) for s in starts]
    if which == "last":
        pick = max(s for s, e in zip(starts, ends, strict=True) if e <= day)
    elif which == "next":
        pick = min(s for s in starts if s > day)
    else:
        pick = next(
            (s for s, e in zip(starts, ends, strict=True) if s <= day < e), min(s for s in starts if s > day)
        )
    if start_month == 12:
        return f"{name} {pick.year}-{pick.year + 1}"
    return f"{name} {pick.year}"


def _resolve_relative(which: str, what: str, day: date) -> str:
    """Absolute form of "last/this/next <week|weekend|month|year|weekday|season>"."""
    step = {"last": -1, "this": 0, "next": 1}[which]
    if what == "week":
        return f"the week {('before', 'of', 'after')[step + 1]} {format_day(day)}"
    if what == "weekend":
        if step == -1:
            return f"the weekend before {format_day(day)}"
        saturday = day - timedelta(days=1) if day.weekday() == 6 else day + timedelta((5 - day.weekday()) % 7)
        return f"the weekend of {format_day(saturday + timedelta(days=7 * step))}"
    if what == "month":
        year, month = _shift_months(day, step)
        return f"{MONTHS[month - 1]} {year}"
    if what == "year":
        return str(day.year + step)
    if what in _SEASONS:
        return _season(day, which, what)
    target = [d[:3] for d in WEEKDAYS].index(what[:3])  # "fri" and "friday" alike
    if step == -1:
        return format_day(day - timedelta((day.weekday() - target) % 7 or 7))
    ahead = (target - day.weekday()) % 7
    return format_day(day + timedelta(ahead if step == 0 else ahead or 7))


def _resolve_ago(count: str, unit: str, day: date) -> str:
    key = count.lower()
    n = int(key) if key.isdigit() else _COUNTS[key]
    around = "around " if key in ("a few", "few", "several") or unit == "week" else ""
    if unit == "day":
        return around + format_day(day - timedelta(days=n))
    if unit == "week":
        return around + format_day(day - timedelta(days=7 * n))
    if unit == "month":
        year, month = _shift_months(day, -n)
        return f"{around}{MONTHS[month - 1]} {year}"
    return f"{around}{day.year - n}"


_WORD_OFFSETS = {"yesterday": -1, "last night": -1, "the day before yesterday": -2, "tomorrow": 1}
_WORD_OFFSETS |= {"the day after tomorrow": 2}


def resolve_relative_dates(text: str, at: datetime) -> str:
    """Insert the absolute date right after each relative date phrase, keeping the phrase.

    ``"I went yesterday"`` on 8 May 2023 becomes ``"I went yesterday (7 May 2023)"``. Phrases already
    followed by a parenthesis are left alone, so the function is idempotent.
    """
    low = text.lower()
    if not any(word in low for word in _DATE_TRIGGERS):
        return text
    day = at.date()

    def absolute(match: re.Match[str]) -> str:
        word = match["word"]
        if word is not None:
            key = word.lower()
            if key == "the other day":
                resolved = f"a few days before {format_day(day)}"
            else:
                resolved = format_day(day + timedelta(days=_WORD_OFFSETS.get(key, 0)))
        elif match["n"] is not None:
            resolved = _resolve_ago(match["n"], match["unit"].lower(), day)
        else:
            resolved = _resolve_relative(match["which"].lower(), match["what"].lower(), day)
        return f"{match[0]} ({resolved})"

    return _REL_DATE_RE.sub(absolute, text)
