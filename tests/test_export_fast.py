"""The CSV writer renders each distinct value once and converts times a minute at a time; its
output must be byte for byte what csv.writer makes of the cells `cell` returns."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.csvfiles import CACHED, CsvLines, cell, write_csv

KINDS = ("text", "integer", "decimal", "datetime")


def reference(kinds, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(k, v) for k, v in zip(kinds, row, strict=True)])
    return out.getvalue()


texts = st.one_of(
    st.none(),
    st.just(""),
    st.sampled_from(["education", "dk", "=1+1", "-3", "＝x", "\tx", 'a "b", c', "สวัสดี\nบรรทัด", "a\rb", " x "]),
    st.text(max_size=12),
)
utc_times = st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC))
times = st.one_of(
    st.none(),
    utc_times.map(lambda d: d.isoformat()),  # what storage writes: with or without microseconds
    utc_times.map(lambda d: d.replace(microsecond=0).isoformat()),
    utc_times.map(lambda d: d.astimezone(UTC).isoformat(timespec="milliseconds")),
    utc_times.map(lambda d: d.astimezone(datetime.now().astimezone().tzinfo).isoformat()),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(lambda d: d.isoformat()),
)
values = {
    "text": st.one_of(texts, st.integers(-5, 5), st.sampled_from([1.0, 2.5])),
    "integer": st.one_of(st.none(), st.integers(-(2**40), 2**40), st.sampled_from([3.0, 4.7, "7", ""])),
    "decimal": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers(-9, 9)),
    "datetime": times,
}


@st.composite
def tables(draw):
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    rows = draw(st.lists(st.tuples(*(values[k] for k in kinds)), max_size=30))
    return kinds, rows


@settings(max_examples=400, deadline=None)
@given(tables())
def test_lines_equal_csv_writer(table) -> None:
    kinds, rows = table
    render = CsvLines(kinds)
    assert "".join(render.lines([r]) for r in rows) == reference(kinds, rows)
    assert render.lines(rows) == reference(kinds, rows)  # again, from the memo


def test_memo_is_bounded_and_still_right() -> None:
    render = CsvLines(["text", "datetime"])
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [(f"=v{i}", (t0 + timedelta(minutes=i, microseconds=i)).isoformat()) for i in range(3 * CACHED)]
    assert render.lines(rows) == reference(["text", "datetime"], rows)
    assert all(len(c) <= CACHED for c in render.columns)
    assert len(render.columns[1]) == 0 and len(render.columns[1].hours) <= CACHED  # times: by the hour


def test_a_lone_empty_field_is_quoted_as_csv_does() -> None:
    assert CsvLines(["text"]).lines([("",), (None,), ("x",)]) == reference(["text"], [("",), (None,), ("x",)])


def test_wrong_width_and_bad_values_fail_as_before() -> None:
    with pytest.raises(ValueError):
        CsvLines(["text", "text"]).lines([("a",)])
    with pytest.raises(ValueError):
        CsvLines(["integer"]).lines([("x",)])
    with pytest.raises(ValueError):
        CsvLines(["datetime"]).lines([("2026-02-30T10:00:00+00:00",)])


async def test_write_csv_from_a_plain_async_iterator(tmp_path: Path) -> None:
    rows = [(f"p{i}", i, "2026-11-25T10:04:05.123456+00:00") for i in range(450)]

    async def source():
        for r in rows:
            yield r

    ticks: list[int] = []
    n = await write_csv(
        tmp_path / "x.csv", [("a", "text"), ("b", "integer"), ("t", "datetime")], source(), ticks.append
    )
    assert n == 450 and ticks == [450]
    text = (tmp_path / "x.csv").read_bytes().decode("utf-8-sig")
    assert text == "a,b,t\r\n" + reference(["text", "integer", "datetime"], rows)
    assert text.splitlines()[1] == "p0,0,2026-11-25T17:04:05+07:00"
