"""LINE webhooks in: the signature checked on the raw body, the body read as LINE documents it,
each event converted to what the bot understands. Nothing here stores, decides or sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.model import Inbound, Incoming, storable


class NotLine(ValueError):
    """A body that is not a LINE webhook (bad JSON, no event list, nested beyond reason)."""


def to_inbound(event: dict) -> Inbound | None:
    """A LINE event from a user → what the engine understands; None for events it ignores.
    Fields of the wrong type are read as LINE's documented absence of them, never coerced."""
    kind = event.get("type")
    sent_at = _sent_at(event.get("timestamp"))
    if kind == "follow":
        return Inbound("follow", sent_at=sent_at)
    if kind == "unfollow":
        return Inbound("unfollow", sent_at=sent_at)
    if kind == "message":
        message = event.get("message")
        text = message.get("text") if isinstance(message, dict) and message.get("type") == "text" else None
        if isinstance(text, str):
            return Inbound("text", text=storable(text), sent_at=sent_at, ref=text_value(message.get("id")) or "")
        # stickers, media, locations, any message type LINE adds later, and a text that is not one
        return Inbound("unsupported", sent_at=sent_at)
    if kind == "unsend":  # the user took a message back: {"unsend": {"messageId": ...}}
        unsend = event.get("unsend")
        ref = text_value(unsend.get("messageId")) if isinstance(unsend, dict) else None
        return Inbound("unsend", sent_at=sent_at, ref=ref) if ref else None
    if kind == "messageEdited":  # the edited message in full, under the id it was sent with
        message = event.get("message")
        if isinstance(message, dict) and message.get("type") == "text":
            ref, text = text_value(message.get("id")), message.get("text")
            if ref and isinstance(text, str):
                return Inbound("edited", text=storable(text), sent_at=sent_at, ref=ref)
        return None
    if kind == "postback":
        postback = event.get("postback")
        data = postback.get("data") if isinstance(postback, dict) else None
        return Inbound("button", data=storable(data), sent_at=sent_at) if isinstance(data, str) and data else None
    return None


def _sent_at(stamp: object) -> datetime | None:
    """LINE's timestamp (ms since the epoch), when it is one a clock can show."""
    if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp <= 0:
        return None
    try:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def text_value(value: object) -> str | None:
    """A non-empty string that can be stored: SQLite (and every platform) takes only valid UTF-8,
    and JSON escapes can carry lone surrogates that are not; PostgreSQL takes no NUL (an id with
    one would be refused at every try). Anything else is None."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def source_type(event: dict) -> str | None:
    source = event.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    return kind if isinstance(kind, str) else None


def chat_of(event: dict) -> str:
    """The chat an event came from: the user's id in 1:1, else the group or room id ("" if none)."""
    key = {"user": "userId", "group": "groupId", "room": "roomId"}.get(source_type(event) or "", "")
    return (text_value(event["source"].get(key)) if key else None) or ""


def reply_token(event: dict) -> str | None:
    return text_value(event.get("replyToken"))


def reply_context(token: str | None, received: datetime) -> dict[str, str]:
    """How to answer an event: its reply token (free while fresh) and when it came."""
    return {"reply_token": token, "received": received.isoformat()} if token else {"received": received.isoformat()}


def to_incoming(event: object, received: datetime) -> Incoming | None:
    """A 1:1 event worth keeping, or None: events without an id (LINE's always have one), from
    groups and rooms (the channel answers those itself), in standby (another channel of a module
    owns the chat), and of types the bot does not act on."""
    if not isinstance(event, dict) or event.get("mode") == "standby" or source_type(event) != "user":
        return None
    event_id, user = text_value(event.get("webhookEventId")), chat_of(event)
    inbound = to_inbound(event)
    if event_id is None or not user or inbound is None:
        return None
    return Incoming(event_id, user, inbound, reply_context(reply_token(event), received))


def events_of(body: bytes) -> list[object]:
    """The event list of a signed body; NotLine when it is not a LINE webhook body."""
    try:
        payload = json.loads(body)
        events = payload["events"]
    except RecursionError as exc:  # nested beyond any real payload
        raise NotLine("nested too deeply") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise NotLine("not a LINE webhook body") from exc
    if not isinstance(events, list):
        raise NotLine("events is not a list")
    return events
