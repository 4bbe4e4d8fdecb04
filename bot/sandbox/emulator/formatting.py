"""Formatting: ``parse_mode`` (HTML, MarkdownV2, legacy Markdown) to plain text + entities.

Also the entities Telegram's clients attach to what a user types (/commands, @mentions,
URLs). Offsets and lengths are in UTF-16 code units, as Telegram counts them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from .errors import bad_request


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets and text length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class _EntityError(Exception):
    pass


def parse_formatted(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and MessageEntity list as Telegram derives them from ``parse_mode``."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    try:
        if mode == "html":
            return _parse_html(text)
        if mode == "markdownv2":
            return _parse_markdown_v2(text)
        if mode == "markdown":
            return _parse_markdown_legacy(text)
    except _EntityError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    raise bad_request(f"unsupported parse_mode {parse_mode!r}")


def _sorted_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((e for e in entities if e["length"] > 0), key=lambda e: (e["offset"], -e["length"]))


class _HtmlEntityParser(HTMLParser):
    TAGS = {
        "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
        "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
        "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link",
        "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-emoji": "custom_emoji",
    }

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.out: list[str] = []
        self.pos = 0  # UTF-16 offset into the plain text
        self.stack: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[dict[str, Any]] = []

    def _where(self) -> str:
        line, col = self.getpos()
        lines = self.source.split("\n")
        char_offset = sum(len(x) + 1 for x in lines[: line - 1]) + col
        return f"byte offset {len(self.source[:char_offset].encode())}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag not in self.TAGS or (tag == "span" and attr.get("class") != "tg-spoiler"):
            raise _EntityError(f'Unsupported start tag "{tag}" at {self._where()}')
        if tag == "a" and not attr.get("href"):
            raise _EntityError(f'Tag "a" must have attribute "href" at {self._where()}')
        self.stack.append((tag, self.pos, attr))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise _EntityError(f'Unsupported start tag "{tag}" at {self._where()}')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise _EntityError(f'Unexpected end tag at {self._where()}')
        open_tag, start, attr = self.stack.pop()
        if open_tag != tag:
            raise _EntityError(
                f'Can\'t find end tag corresponding to start tag "{open_tag}" at {self._where()}'
            )
        entity: dict[str, Any] = {"type": self.TAGS[tag], "offset": start, "length": self.pos - start}
        if tag == "a":
            entity["url"] = attr["href"]
        elif tag == "blockquote" and "expandable" in attr:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attr.get("emoji-id") or ""
        elif tag == "code" and self.stack and self.stack[-1][0] == "pre":
            cls = attr.get("class") or ""
            if cls.startswith("language-"):  # <pre><code class="language-x"> = pre with language
                self.stack[-1][2]["_language"] = cls[len("language-"):]
                return
        elif tag == "pre" and attr.get("_language"):
            entity["language"] = attr["_language"]
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.out.append(data)
        self.pos += utf16_len(data)


def _parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    parser = _HtmlEntityParser(text)
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"')
    return "".join(parser.out), _sorted_entities(parser.entities)


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}
_ENTITY_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "text_link": "TextUrl", "code": "Code", "pre": "Pre",
}


def _parse_markdown_v2(src: str) -> tuple[str, list[dict[str, Any]]]:
    """MarkdownV2 as documented: escapes, nesting, links, code/pre, '>' blockquotes."""
    out: list[str] = []
    pos = 0
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, int]] = []  # (marker, utf16 start, source index)
    quote_start: int | None = None
    i, n = 0, len(src)

    def emit(s: str) -> None:
        nonlocal pos
        out.append(s)
        pos += utf16_len(s)

    def byte_at(index: int) -> int:
        return len(src[:index].encode())

    def read_until(index: int, closing: str, what: str) -> tuple[str, int]:
        """Raw content up to an unescaped ``closing``; inside, only '\\' escapes apply."""
        buf: list[str] = []
        j = index
        while j < n:
            if src[j] == "\\" and j + 1 < n:
                buf.append(src[j + 1])
                j += 2
            elif src.startswith(closing, j):
                return "".join(buf), j + len(closing)
            else:
                buf.append(src[j])
                j += 1
        raise _EntityError(f"Can't find end of {what} entity at byte offset {byte_at(index)}")

    while i < n:
        c = src[i]
        line_start = i == 0 or src[i - 1] == "\n"
        if c == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) < 127:
                emit(src[i + 1])
                i += 2
                continue
            emit(c)
            i += 1
            continue
        if c == ">" and line_start:
            if quote_start is None:
                quote_start = pos
            i += 1
            continue
        if c == "\n" and quote_start is not None and not src.startswith(">", i + 1):
            entities.append({"type": "blockquote", "offset": quote_start, "length": pos - quote_start})
            quote_start = None
        if src.startswith("```", i):
            body, i_next = read_until(i + 3, "```", "Pre")
            language, nl, rest = body.partition("\n")
            entity: dict[str, Any] = {"type": "pre", "offset": pos}
            if nl and language and not any(ch.isspace() for ch in language):
                entity["language"] = language
                body = rest
            emit(body)
            entity["length"] = pos - entity["offset"]
            entities.append(entity)
            i = i_next
            continue
        if c == "`":
            body, i = read_until(i + 1, "`", "Code")
            start = pos
            emit(body)
            entities.append({"type": "code", "offset": start, "length": pos - start})
            continue
        marker = "__" if src.startswith("__", i) else "||" if src.startswith("||", i) else c
        if marker in _MDV2_MARKERS:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                entities.append({"type": _MDV2_MARKERS[marker], "offset": start, "length": pos - start})
            elif any(m == marker for m, _, _ in stack):
                open_marker, _, at = stack[-1]
                name = _ENTITY_NAMES.get(_MDV2_MARKERS.get(open_marker, "text_link"), "TextUrl")
                raise _EntityError(f"Can't find end of {name} entity at byte offset {byte_at(at)}")
            else:
                stack.append((marker, pos, i))
            i += len(marker)
            continue
        if c == "[":
            stack.append(("[", pos, i))
            i += 1
            continue
        if c == "]" and stack and stack[-1][0] == "[":
            _, start, at = stack.pop()
            if not src.startswith("(", i + 1):
                raise _EntityError(f"Can't find end of TextUrl entity at byte offset {byte_at(at)}")
            url, i = read_until(i + 2, ")", "TextUrl")
            entities.append({"type": "text_link", "offset": start, "length": pos - start, "url": url})
            continue
        if c in _MDV2_RESERVED:
            raise _EntityError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(c)
        i += 1
    if quote_start is not None:
        entities.append({"type": "blockquote", "offset": quote_start, "length": pos - quote_start})
    if stack:
        marker, _, at = stack[-1]
        name = _ENTITY_NAMES.get(_MDV2_MARKERS.get(marker, "text_link"), "TextUrl")
        raise _EntityError(f"Can't find end of {name} entity at byte offset {byte_at(at)}")
    return "".join(out), _sorted_entities(entities)


def _parse_markdown_legacy(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url), no nesting."""
    out: list[str] = []
    pos = 0
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)
    simple = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.append(src[i + 1])
            pos += 1
            i += 2
            continue
        closing = "```" if src.startswith("```", i) else c if c in simple else "](" if c == "[" else None
        if closing is None:
            out.append(c)
            pos += utf16_len(c)
            i += 1
            continue
        start_i = i + (3 if closing == "```" else 1)
        end = src.find(closing, start_i)
        if end < 0:
            raise _EntityError(
                f"Can't find end of the entity starting at byte offset {len(src[:i].encode())}"
            )
        body = src[start_i:end]
        entity: dict[str, Any] = {"offset": pos, "length": utf16_len(body)}
        if closing == "```":
            entity["type"] = "pre"
            i = end + 3
        elif closing == "](":
            url_end = src.find(")", end + 2)
            if url_end < 0:
                raise _EntityError(
                    f"Can't find end of the entity starting at byte offset {len(src[:i].encode())}"
                )
            entity.update(type="text_link", url=src[end + 2:url_end])
            i = url_end + 1
        else:
            entity["type"] = simple[c]
            i = end + 1
        out.append(body)
        pos += entity["length"]
        entities.append(entity)
    return "".join(out), _sorted_entities(entities)


_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}")
_URL_RE = re.compile(r"\bhttps?://[^\s<>\"]+")


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram's clients attach to typed text: /commands, @mentions, URLs."""
    entities = []
    for kind, rx in (("bot_command", _COMMAND_RE), ("mention", _MENTION_RE), ("url", _URL_RE)):
        for m in rx.finditer(text):
            entities.append(
                {"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
            )
    return _sorted_entities(entities)
