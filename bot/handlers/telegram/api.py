"""The Bot API behind rabfang's `Sender`, through python-telegram-bot as transport only. PTB's
errors are mapped here, once, onto bot.senders' exception tree; retries and pacing are
bot.senders'."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, LinkPreviewOptions
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.engine import buttons
from bot.model import Reply, chunks
from bot.senders import Blocked, Capabilities, Delivery, Pacer, Refused, RetryPolicy, SendError, Unavailable

from .render import MAX_TEXT, answered_text, keyboard

CHANNEL = "telegram"
T = TypeVar("T")

log = logging.getLogger("rabfang.telegram")


def retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form will become a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def mapped(call: Callable[[], Awaitable[T]]) -> T:
    """One PTB call, its failures as bot.senders errors."""
    try:
        return await call()
    except RetryAfter as exc:
        raise Unavailable("flood control", 429, retry_after(exc)) from None
    except Forbidden as exc:
        raise Blocked(str(exc), 403) from None
    except BadRequest as exc:
        raise Refused(str(exc), 400) from None
    except NetworkError as exc:  # includes TimedOut
        raise Unavailable(type(exc).__name__) from None
    except TelegramError as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from None


def tapped_capability(data: str) -> str | None:
    """The capability (`area.item`) whose question a tapped button answered, or None."""
    decoded = buttons.decode(data)
    if decoded is None or buttons.kind(decoded[0]) != buttons.QUESTION:
        return None
    capability, _, _question = buttons.question_key(decoded[0]).rpartition(".")
    return capability or None


def in_place(context: Mapping[str, str], replies: Sequence[Reply]) -> bool:
    """Whether to edit the tapped message into the first reply: it is the card of the capability
    whose question was tapped (shown again, as after "back"), and an edit can carry it (text within
    one message, no file). The question that follows a card comes without one, alone: the card
    stays above it, marked answered."""
    if not replies or not context.get("message_id"):
        return False
    first = replies[0]
    return (
        first.card is not None
        and first.attachment is None
        and bool(first.text.strip())
        and len(first.text) <= MAX_TEXT
        and tapped_capability(context.get("data", "")) == first.card.key
    )


class TelegramSender:
    """The Telegram channel's way out (see bot.senders.Sender). Every message is paced per chat and
    overall; answering a tap and editing a message add none to the chat and are paced overall only."""

    name = CHANNEL
    capabilities = Capabilities(reply=False, push=True, multicast=0, edit=True, file=True, messages_per_call=1)

    def __init__(self, *, pacer: Pacer, retry: RetryPolicy, token: str):
        self._pacer = pacer
        self._retry = retry
        self._token = token
        self.bot: Bot | None = None  # set while the channel runs

    def describe(self, exc: BaseException) -> str:
        """An exception for the log, with the bot token masked should it appear in it."""
        return f"{type(exc).__name__}: {exc}".replace(self._token, "<token>")

    async def _call(self, call: Callable[[], Awaitable[T]], chat: str | None, *, paced: bool = True) -> T:
        return await self._retry.call(lambda: mapped(call), self._pacer if paced else None, chat)

    # ---- the Sender protocol ----------------------------------------------------------------

    async def answer(
        self, user_ref: str, replies: list[Reply], context: Mapping[str, str], *, chosen: str | None, key: str
    ) -> Delivery:
        """Stop the tap's spinner and answer: when the tap was on a question of one capability and the
        first reply is that capability's next card, the tapped message becomes it (edited in place:
        one message per capability); otherwise the tapped question is marked answered and what comes
        next is sent. The calls are made side by side: the participant waits for one round trip."""
        calls: list[Awaitable[object]] = []
        if context.get("callback"):
            calls.append(self._answer_callback(context["callback"]))
            if in_place(context, replies):
                calls.append(self._edit_into(user_ref, context, replies, key))
                results = await asyncio.gather(*calls)
                return results[-1]  # type: ignore[return-value]
            if chosen and context.get("message_text") and context.get("message_id"):
                calls.append(self._mark_answered(user_ref, context, chosen))
        calls.append(self.push(user_ref, replies, key))
        results = await asyncio.gather(*calls)
        return results[-1]  # type: ignore[return-value]

    async def push(self, user_ref: str, replies: list[Reply], key: str | None = None) -> Delivery:
        """Render replies in order; stops at a block, skips a message Telegram refuses. Never raises."""
        try:
            chat_id = int(user_ref)
        except ValueError:
            return "failed"
        if self.bot is None:
            return "failed"
        status: Delivery = "sent"
        for reply in replies:
            try:
                await self._send_reply(chat_id, reply)
            except Blocked:
                return "blocked"
            except Refused as exc:
                log.error("telegram: a message was refused: %s", exc)
                status = "failed"
            except SendError as exc:
                log.warning("telegram: sending failed: %s", exc)
                return "failed"
        return status

    async def multicast(self, user_refs: Sequence[str], replies: list[Reply], key: str) -> Delivery:
        return "failed"  # not a Telegram capability: outreach sends one by one

    async def link_menu(self, user_ref: str, lang: str | None) -> bool:
        return False  # Telegram shows the command menu of the app's language by itself (setMyCommands)

    async def unlink_menu(self, user_ref: str) -> bool:
        return False

    async def notice(self, chat_id: int, text: str) -> None:
        """A message outside any conversation (a group told to use private chat)."""
        bot = self.bot
        if bot is None:
            return
        try:
            await self._call(lambda: bot.send_message(chat_id, text), str(chat_id))
        except SendError as exc:
            log.info("telegram: group notice not sent: %s", exc)

    # ---- the calls ----------------------------------------------------------------------------

    async def _send_reply(self, chat_id: int, reply: Reply) -> None:
        bot = self.bot
        assert bot is not None
        parts = [p for p in chunks(reply.text, MAX_TEXT) if p.strip()]
        markup = keyboard(reply.buttons)
        if markup is not None and not parts:
            parts = ["…"]  # Telegram shows no keyboard without a message to carry it
        chat = str(chat_id)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            await self._call(
                lambda p=part, m=(markup if last else None): bot.send_message(
                    chat_id, p, reply_markup=m, link_preview_options=LinkPreviewOptions(is_disabled=True)
                ),
                chat,
            )
        if reply.attachment is not None:
            a = reply.attachment
            await self._call(lambda: bot.send_document(chat_id, a.content, filename=a.filename), chat)

    async def _answer_callback(self, callback_id: str) -> None:
        bot = self.bot
        if bot is None:
            return
        try:
            await self._call(lambda: bot.answer_callback_query(callback_id), None, paced=False)
        except SendError as exc:  # too old, or already answered on a first delivery
            log.debug("telegram: answerCallbackQuery failed: %s", exc)

    async def answer_callback(self, callback_id: str) -> None:
        await self._answer_callback(callback_id)

    async def _edit_into(self, user_ref: str, context: Mapping[str, str], replies: list[Reply], key: str) -> Delivery:
        """Edit the tapped message into the first reply (text and keyboard), then send the rest. An
        edit Telegram refuses (too old, deleted) sends the reply as a new message instead."""
        bot = self.bot
        if bot is None:
            return "failed"
        first, rest = replies[0], replies[1:]
        try:
            await self._call(
                lambda: bot.edit_message_text(
                    first.text,
                    chat_id=int(user_ref),
                    message_id=int(context["message_id"]),
                    reply_markup=keyboard(first.buttons),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
                None,  # an edit adds no message to the chat: paced overall only
            )
        except Blocked:
            return "blocked"
        except SendError as exc:
            if "not modified" not in str(exc).lower():  # the same question again: it stands as it is
                log.debug("telegram: editing in place failed, sending anew: %s", exc)
                rest = replies
        return await self.push(user_ref, rest, key) if rest else "sent"

    async def _mark_answered(self, user_ref: str, context: Mapping[str, str], chosen: str) -> None:
        """Edit the tapped question to show the choice and drop its keyboard: the chat reads as a record."""
        bot = self.bot
        if bot is None:
            return
        text = answered_text(context["message_text"], chosen)
        try:
            await self._call(
                lambda: bot.edit_message_text(
                    text,
                    chat_id=int(user_ref),
                    message_id=int(context["message_id"]),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
                None,  # an edit adds no message to the chat: paced overall only
            )
        except (SendError, ValueError) as exc:  # not modified, too old to edit: the record stays as it was
            log.debug("telegram: editMessageText failed: %s", exc)
