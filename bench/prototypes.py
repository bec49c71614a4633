"""What-ifs for bench/line_webhooks.py --what-if, not used by the bot.

The storage prototype that lived here (one hop per event and group commit) is now storage itself
(storage/sqlite.py); what is left is the `limit` what-if: at most 8 LINE events processed at once,
so a webhook's inbox write queues behind 8 units of work at most.
"""

from __future__ import annotations


def serve() -> int:
    """`rabfang run` with what-ifs in place (bench/line_webhooks.py --what-if), from BENCH_WHAT_IF:
    `limit` lets at most 8 LINE events be processed at once."""
    import asyncio
    import os
    import sys

    from bot.cli import main
    from bot.handlers.line import LineChannel

    what = set(os.environ.get("BENCH_WHAT_IF", "limit").split(","))
    if "limit" in what:
        guarded = LineChannel._guarded
        slots: list[asyncio.Semaphore] = []

        async def limited(self, row):  # type: ignore[no-untyped-def]
            if not slots:
                slots.append(asyncio.Semaphore(8))
            async with slots[0]:
                return await guarded(self, row)

        LineChannel._guarded = limited  # type: ignore[method-assign]
    print(f"what-if: {sorted(what)}", file=sys.stderr)
    return main(["run"])


if __name__ == "__main__":
    import sys

    sys.exit(serve())
