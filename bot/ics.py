"""An iCalendar (RFC 5545) file for a focus-group session, so a phone can add it to a calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .model import SessionView

DEFAULT_LENGTH = timedelta(hours=3)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character."""
    out, current = [], b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def session_ics(session: SessionView, lang: str | None, now: datetime) -> bytes:
    ends = session.ends_at or session.starts_at + DEFAULT_LENGTH
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//rabfang//focus group//TH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:session-{session.id}@rabfang",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(session.starts_at)}",
        f"DTEND:{_stamp(ends)}",
        f"SUMMARY:{_escape(session.title(lang))}",
    ]
    if session.place:
        lines.append(f"LOCATION:{_escape(session.place)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")
