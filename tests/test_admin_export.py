"""`/export` in chat: an admin on Telegram gets the export as a zip document holding the same
files as `rabfang export`; anyone else gets what an unknown command gets."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bot.app import open_app
from bot.config import Settings
from bot.handlers.telegram import TelegramChannel
from bot.model import Inbound
from exports import write_export
from testbed.telegram_api import TOKEN, FakeBotAPI, Participant

ADMIN, CITIZEN = 7_000_001, 7_000_002


async def test_admin_export_is_a_zip_of_the_export_set(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        settings = Settings(
            _env_file=None,
            db=tmp_path / "rabfang.db",
            telegram_bot_token=TOKEN,
            telegram_api_base_url=api.base_url,
            flood_limit=1000,
            admins=f"telegram:{ADMIN}",
        )
        async with open_app(settings) as app:
            for text in (
                "hi",
                "lang=th",
                "consent=yes",
                "group=farmer",
                "region=north",
                "age=~skip",
                "area=agriculture",
                "4",
                "5",
            ):
                kind = "button" if "=" in text else "text"
                await app.service.handle("line", "Uabc", Inbound(kind, text=text, data=text))
            channel = TelegramChannel(app)
            await channel.start()
            try:
                citizen = Participant(api, CITIZEN)
                unknown = citizen.texts(await citizen.say("/nonsense"))
                refused = citizen.texts(await citizen.say("/export"))
                admin = Participant(api, ADMIN)
                calls = await admin.say("/export")
            finally:
                await channel.stop()
            reference = await write_export(app.db, tmp_path / "reference", catalog=app.catalog)
    assert refused == unknown and refused
    assert not [c for c in api.method_calls("sendDocument") if int(c.params["chat_id"]) == CITIZEN]
    docs = [c for c in calls if c.method == "sendDocument"]
    assert len(docs) == 1
    name, content = next(iter(docs[0].files.values()))
    assert name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        inside = {Path(n).name: z.read(n) for n in z.namelist()}
    expected = {p.name for p in (tmp_path / "reference").iterdir()}
    assert set(inside) == expected and {"responses.csv", "summary.csv", "README.txt"} <= expected
    responses = inside["responses.csv"].decode("utf-8-sig").splitlines()
    assert responses == (tmp_path / "reference" / "responses.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(responses) == 3 and "Uabc" not in inside["participants.csv"].decode("utf-8-sig")
    assert reference.rows["responses.csv"] == 2
