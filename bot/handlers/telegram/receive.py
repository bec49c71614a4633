"""Telegram updates in: checked against the shapes the Bot API documents, converted to what the bot
understands. Nothing here stores, decides or sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telegram import Chat, Message, Update, User

from bot.model import Inbound, Incoming

ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")


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
            context["message_text"] = message.text
        return Incoming(event_id, str(query.from_user.id), Inbound("button", data=query.data or ""), context)
    message = update.message
    if message is not None:
        if message.chat.type != "private":
            return Aside(group_chat=message.chat.id) if _addressed(message, username) else None
        if message.from_user is None:
            return None
        # The message's own timestamp: flood control judges a backlog by when it was sent.
        if message.text is not None:
            inbound = Inbound("text", text=message.text, sent_at=message.date)
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
