"""Telegram updates in: checked against the shapes the Bot API documents, converted to what the bot
understands. Nothing here stores, decides or sends."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from telegram import Bot, Chat, Message, Update, User

from bot.model import Inbound, Incoming, storable

ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")

log = logging.getLogger("rabfang.telegram")


def update_id(data: object) -> int | None:
    """The `update_id` of a raw update, when it has one that can be an offset."""
    value = data.get("update_id") if isinstance(data, dict) else None
    return value if _is_id(value) else None


def read_update(data: object, bot: Bot | None, *, then: str = "skipped") -> Update | None:
    """One raw update as PTB's `Update`, or None (logged by id only, with what is done with it:
    `then`) when PTB cannot read it: a newer or older Bot API than PTB's (a `poll` without
    `persistent_id`), or a body of the wrong shape. The exception's text is not logged, as it can
    quote the update's contents."""
    try:
        update = Update.de_json(data, bot) if isinstance(data, dict) else None
    except Exception as exc:  # PTB raises TypeError, KeyError, ValueError, AttributeError ...
        log.warning("telegram: update %s could not be read (%s); %s", update_id(data), type(exc).__name__, then)
        return None
    if update is None or not _is_id(update.update_id):
        log.warning("telegram: update %s is not an update; %s", update_id(data), then)
        return None
    return update


def read_batch(raw: object, bot: Bot | None) -> tuple[list[Update], int | None]:
    """A `getUpdates` result read update by update, so one unreadable update does not stop the
    rest: the updates PTB could read, and the highest update id of the batch (readable or not),
    which the next offset confirms."""
    items = raw if isinstance(raw, list) else []
    updates = [u for u in (read_update(item, bot) for item in items) if u is not None]
    ids = [i for i in (update_id(item) for item in items) if i is not None]
    return updates, max(ids, default=None)


@dataclass(frozen=True)
class Aside:
    """An update answered outside any conversation: a group to point at private chat
    (`group_chat`), a tap from a group to acknowledge (`callback`)."""

    group_chat: int | None = None
    callback: str | None = None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_chat(chat: object) -> bool:
    return isinstance(chat, Chat) and _is_id(chat.id) and isinstance(chat.type, str)


def _is_user(user: object) -> bool:
    return isinstance(user, User) and _is_id(user.id)


def _is_text(value: object) -> bool:
    return value is None or isinstance(value, str)


def well_formed(update: Update) -> bool:
    """Whether the fields this channel reads have the types the Bot API documents. PTB builds its
    objects from whatever JSON it is given, and a webhook caller holding the secret could send
    anything: a message without a chat, a number for a text, a list for callback data."""
    query = update.callback_query
    if query is not None:
        message = query.message
        if message is not None and not (_is_chat(getattr(message, "chat", None)) and _is_id(message.message_id)):
            return False
        return _is_user(query.from_user) and _is_text(query.data) and _is_text(getattr(message, "text", None))
    message = update.message
    if message is not None:
        return (
            _is_chat(message.chat)
            and (message.from_user is None or _is_user(message.from_user))
            and _is_text(message.text)
            and _is_text(message.caption)
            and isinstance(message.date, datetime)
        )
    change = update.my_chat_member
    if change is not None:
        return (
            _is_chat(change.chat)
            and isinstance(getattr(change.new_chat_member, "status", None), str)
            and isinstance(getattr(change.old_chat_member, "status", None), str)
        )
    return True


def to_incoming(update: Update, username: str | None) -> Incoming | Aside | None:
    """A private-chat update for the conversation, something to answer aside, or None to ignore.
    `username` is the bot's own, for telling a group message addressed to it."""
    event_id = str(update.update_id)
    query = update.callback_query
    if query is not None:
        message = query.message
        if message is None or message.chat.type != "private":
            return Aside(callback=query.id)
        # the tapped data too: the sender edits a capability's question into its next one in place
        context = {"callback": query.id, "message_id": str(message.message_id), "data": query.data or ""}
        if isinstance(message, Message) and message.text:  # older than 48 hours: Telegram no longer shows it
            context["message_text"] = storable(message.text)
        data = storable(query.data or "")
        return Incoming(event_id, str(query.from_user.id), Inbound("button", data=data), context)
    message = update.message
    if message is not None:
        if message.chat.type != "private":
            return Aside(group_chat=message.chat.id) if _addressed(message, username) else None
        if message.from_user is None:
            return None
        # The message's own timestamp: flood control judges a backlog by when it was sent.
        if forwarded(message):  # whatever it carries, it is not the participant's own answer
            inbound = Inbound("forwarded", sent_at=message.date)
        elif message.text is not None:
            inbound = Inbound("text", text=storable(message.text), sent_at=message.date)
        elif message.effective_attachment is not None or message.caption is not None:
            inbound = Inbound("unsupported", sent_at=message.date)  # stickers, photos, voice, locations ...
        else:
            return None  # a service message (pinned, timer changed ...): nothing the participant said
        return Incoming(event_id, str(message.from_user.id), inbound)
    change = update.my_chat_member
    if change is not None:
        new, old = change.new_chat_member.status, change.old_chat_member.status
        if change.chat.type == "private":
            if new == "kicked":  # the participant blocked the bot
                return Incoming(event_id, str(change.chat.id), Inbound("unfollow"))
            if old == "kicked" and new == "member":  # and unblocked it
                return Incoming(event_id, str(change.chat.id), Inbound("unblock"))
        elif new in ("member", "administrator") and old in ("left", "kicked"):
            return Aside(group_chat=change.chat.id)
    return None


# The fields older Bot APIs (before 7.0) mark a forward with; PTB 22 keeps them in api_kwargs.
LEGACY_FORWARD = ("forward_from", "forward_from_chat", "forward_sender_name", "forward_date")


def forwarded(message: Message) -> bool:
    """A forwarded message: `forward_origin` (Bot API 7+), or the older `forward_*` fields."""
    return message.forward_origin is not None or any(k in message.api_kwargs for k in LEGACY_FORWARD)


def _addressed(message: Message, username: str | None) -> bool:
    """A group message meant for us: a command, or one naming the bot."""
    text = message.text or ""
    return text.startswith("/") or bool(username and f"@{username}".casefold() in text.casefold())


def sender_key(update: Update) -> str:
    """Whose update this is, for keeping one participant's updates in order."""
    user = update.effective_user
    if user is not None:
        return f"u{user.id}"
    chat = update.effective_chat
    return f"c{chat.id}" if chat is not None else "-"
