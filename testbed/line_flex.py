"""LINE's checks of a Flex message, for the fake API: the container's structure (bubble or
carousel, blocks that are boxes, components each box layout may hold), the actions, the sizes
(a bubble's JSON ≤ 30 KB, a carousel's ≤ 50 KB and ≤ 12 bubbles) and the lengths of text,
labels and data. The properties each object may carry are those of LINE's OpenAPI description,
read from the SDK's models generated from it; a property LINE does not define is refused.

Action labels are counted in code points; LINE counts grapheme clusters, which are never more,
so what passes here passes on LINE.
"""

from __future__ import annotations

import json
import re
from typing import Any

from linebot.v3.messaging import (
    FlexBox,
    FlexBubble,
    FlexBubbleStyles,
    FlexButton,
    FlexCarousel,
    FlexFiller,
    FlexIcon,
    FlexImage,
    FlexSeparator,
    FlexSpan,
    FlexText,
    FlexVideo,
)

MAX_BUBBLE = 30 * 1024
MAX_CAROUSEL = 50 * 1024
MAX_BUBBLES = 12
MAX_ALT = 1500  # LINE's limit on a Flex message's altText


def _keys(model: type) -> frozenset[str]:
    return frozenset(f.alias for f in model.__fields__.values())  # type: ignore[attr-defined]


KEYS = {
    "bubble": _keys(FlexBubble),
    "carousel": _keys(FlexCarousel),
    "box": _keys(FlexBox),
    "text": _keys(FlexText),
    "button": _keys(FlexButton),
    "image": _keys(FlexImage),
    "icon": _keys(FlexIcon),
    "separator": _keys(FlexSeparator),
    "filler": _keys(FlexFiller),
    "span": _keys(FlexSpan),
    "video": _keys(FlexVideo),
}
STYLES = _keys(FlexBubbleStyles)

# What a box of each layout may hold (LINE's Flex Message reference, "Box").
IN_BOX = {
    "vertical": {"box", "button", "image", "text", "separator", "filler", "video"},
    "horizontal": {"box", "button", "image", "text", "separator", "filler", "video"},
    "baseline": {"icon", "text", "filler"},
}
SIZES = ("nano", "micro", "deca", "hecto", "kilo", "mega", "giga")
SPACING = ("none", "xs", "sm", "md", "lg", "xl", "xxl")
TEXT_SIZES = ("xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl")
WIDTHS = ("none", "light", "normal", "medium", "semi-bold", "bold")
COLOUR = re.compile(r"#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")
LENGTH = re.compile(r"[0-9]+(\.[0-9]+)?(px|%)")
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("bubble", "size"): SIZES,
    ("bubble", "direction"): ("ltr", "rtl"),
    ("box", "layout"): tuple(IN_BOX),
    ("box", "justifyContent"): ("flex-start", "center", "flex-end", "space-between", "space-around", "space-evenly"),
    ("box", "alignItems"): ("flex-start", "center", "flex-end"),
    ("text", "weight"): ("regular", "bold"),
    ("text", "style"): ("normal", "italic"),
    ("text", "decoration"): ("none", "underline", "line-through"),
    ("text", "adjustMode"): ("shrink-to-fit",),
    ("button", "style"): ("primary", "secondary", "link"),
    ("button", "height"): ("sm", "md"),
    ("button", "adjustMode"): ("shrink-to-fit",),
}
for _kind in ("box", "text", "button", "image", "icon", "separator", "filler"):
    ENUMS[(_kind, "position")] = ("relative", "absolute")
for _kind in ("text", "button", "image"):
    ENUMS[(_kind, "gravity")] = ("top", "bottom", "center")
for _kind in ("text", "image"):
    ENUMS[(_kind, "align")] = ("start", "end", "center")


class Invalid(ValueError):
    """What LINE would answer with 400: the path of the offending property and why."""


def _text(value: object, where: str, limit: int) -> None:
    if not isinstance(value, str) or not value:
        raise Invalid(f"{where}: must be a non-empty string")
    if len(value.encode("utf-16-le")) // 2 > limit:
        raise Invalid(f"{where}: longer than {limit} characters")


def action(value: object, where: str, *, label_required: bool = False) -> None:
    """An action object (postback, message, uri, datetimepicker, clipboard)."""
    if not isinstance(value, dict):
        raise Invalid(f"{where}: an action object expected")
    kind = value.get("type")
    label = value.get("label")
    if (label is not None or label_required) and (not isinstance(label, str) or not 1 <= len(label) <= 20):
        raise Invalid(f"{where}.label: 1 to 20 characters")
    if kind == "postback":
        _text(value.get("data"), f"{where}.data", 300)
        if value.get("displayText") is not None:
            _text(value["displayText"], f"{where}.displayText", 300)
        if value.get("text") is not None:
            raise Invalid(f"{where}.text: deprecated; use displayText")
    elif kind == "message":
        _text(value.get("text"), f"{where}.text", 300)
    elif kind == "uri":
        uri = value.get("uri")
        _text(uri, f"{where}.uri", 1000)
        if not re.match(r"(https?|line|tel):", uri):
            raise Invalid(f"{where}.uri: http, https, line or tel")
    elif kind == "richmenuswitch":
        _text(value.get("richMenuAliasId"), f"{where}.richMenuAliasId", 32)
        _text(value.get("data"), f"{where}.data", 300)
    elif kind not in ("datetimepicker", "clipboard", "camera", "cameraRoll", "location"):
        raise Invalid(f"{where}.type: unknown action type {kind!r}")


def _properties(kind: str, value: dict[str, Any], where: str) -> None:
    unknown = set(value) - KEYS[kind]
    if unknown:
        raise Invalid(f"{where}: unknown propert{'y' if len(unknown) == 1 else 'ies'} {sorted(unknown)}")
    for key, v in value.items():
        allowed = ENUMS.get((kind, key))
        if allowed is not None and v not in allowed:
            raise Invalid(f"{where}.{key}: one of {', '.join(allowed)}")
        if key.endswith("Color") and not (isinstance(v, str) and COLOUR.fullmatch(v)):
            raise Invalid(f"{where}.{key}: a colour #RRGGBB or #RRGGBBAA")
        if key in ("margin", "spacing") and not (v in SPACING or (isinstance(v, str) and LENGTH.fullmatch(v))):
            raise Invalid(f"{where}.{key}: {', '.join(SPACING)} or a length in px")
        if key == "flex" and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise Invalid(f"{where}.flex: an integer of 0 or more")
        if key in ("wrap",) and not isinstance(v, bool):
            raise Invalid(f"{where}.{key}: true or false")
        if key == "maxLines" and not (isinstance(v, int) and v >= 0):
            raise Invalid(f"{where}.maxLines: an integer of 0 or more")
        if key == "borderWidth" and not (v in WIDTHS or (isinstance(v, str) and LENGTH.fullmatch(v))):
            raise Invalid(f"{where}.borderWidth: {', '.join(WIDTHS)} or a length in px")
        if key.startswith("padding") or key in ("cornerRadius", "width", "height", "maxWidth", "maxHeight"):
            if kind == "button" and key == "height":
                continue  # an enum, checked above
            keyword = ("none", "xs", "sm", "md", "lg", "xl", "xxl")
            if not (v in keyword or (isinstance(v, str) and LENGTH.fullmatch(v))):
                raise Invalid(f"{where}.{key}: a keyword or a length in px or %")
        sized = v in TEXT_SIZES or (isinstance(v, str) and LENGTH.fullmatch(v))
        if key == "size" and kind in ("text", "span", "icon") and not sized:
            raise Invalid(f"{where}.size: {', '.join(TEXT_SIZES)} or a length in px")


def component(value: object, where: str, allowed: set[str]) -> None:
    if not isinstance(value, dict):
        raise Invalid(f"{where}: a component object expected")
    kind = value.get("type")
    if kind not in allowed:
        raise Invalid(f"{where}.type: {kind!r} is not allowed here (allowed: {', '.join(sorted(allowed))})")
    _properties(kind, value, where)
    if kind == "box":
        box(value, where)
    elif kind == "text":
        spans = value.get("contents")
        if spans is not None:
            if not isinstance(spans, list):
                raise Invalid(f"{where}.contents: an array of spans")
            for n, span in enumerate(spans):
                component(span, f"{where}.contents[{n}]", {"span"})
        else:
            _text(value.get("text"), f"{where}.text", 1 << 20)
        if "action" in value:
            action(value["action"], f"{where}.action")
    elif kind == "span":
        _text(value.get("text"), f"{where}.text", 1 << 20)
    elif kind == "button":
        action(value.get("action"), f"{where}.action", label_required=True)
    elif kind in ("image", "icon"):
        _text(value.get("url"), f"{where}.url", 2000)
        if not value["url"].startswith("https://"):
            raise Invalid(f"{where}.url: an https URL")
    elif kind == "video":
        for key in ("url", "previewUrl", "altContent"):
            if key not in value:
                raise Invalid(f"{where}.{key}: required")


def box(value: object, where: str) -> None:
    if not isinstance(value, dict) or value.get("type") != "box":
        raise Invalid(f"{where}: a box expected")
    _properties("box", value, where)
    layout = value.get("layout")
    if layout not in IN_BOX:
        raise Invalid(f"{where}.layout: horizontal, vertical or baseline")
    contents = value.get("contents")
    if not isinstance(contents, list):
        raise Invalid(f"{where}.contents: an array of components")
    for n, child in enumerate(contents):
        component(child, f"{where}.contents[{n}]", IN_BOX[layout])
    if "action" in value:
        action(value["action"], f"{where}.action")


def bubble(value: object, where: str) -> None:
    if not isinstance(value, dict) or value.get("type") != "bubble":
        raise Invalid(f"{where}.type: bubble expected")
    _properties("bubble", value, where)
    for block in ("header", "body", "footer"):
        if block in value:
            box(value[block], f"{where}.{block}")
    if "hero" in value:
        component(value["hero"], f"{where}.hero", {"box", "image", "video"})
    styles = value.get("styles")
    if styles is not None and (not isinstance(styles, dict) or set(styles) - STYLES):
        raise Invalid(f"{where}.styles: header, hero, body, footer")
    if "action" in value:
        action(value["action"], f"{where}.action")
    if _size(value) > MAX_BUBBLE:
        raise Invalid(f"{where}: size over {MAX_BUBBLE // 1024} KB")


def _size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def container(value: object, where: str = "contents") -> None:
    """A Flex container, or Invalid."""
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "bubble":
        bubble(value, where)
    elif kind == "carousel":
        assert isinstance(value, dict)
        _properties("carousel", value, where)
        bubbles = value.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_BUBBLES:
            raise Invalid(f"{where}.contents: 1 to {MAX_BUBBLES} bubbles")
        for n, b in enumerate(bubbles):
            bubble(b, f"{where}.contents[{n}]")
        if _size(value) > MAX_CAROUSEL:
            raise Invalid(f"{where}: size over {MAX_CAROUSEL // 1024} KB")
    else:
        raise Invalid(f"{where}.type: bubble or carousel")


def message(value: dict[str, Any], where: str) -> None:
    """A message object of type flex (its quick replies are checked with every message's)."""
    extra = set(value) - {"type", "altText", "contents", "quickReply", "sender"}
    if extra:
        raise Invalid(f"{where}: unknown properties {sorted(extra)}")
    _text(value.get("altText"), f"{where}.altText", MAX_ALT)
    container(value.get("contents"), f"{where}.contents")
