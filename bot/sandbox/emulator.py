"""A Telegram Bot API emulator on 127.0.0.1 for tests and the local sandbox chat.

python-telegram-bot (PTB) runs against it as a real HTTP client::

    with TelegramEmulator() as emu:
        app = (ApplicationBuilder().token(emu.token)
               .base_url(emu.base_url).base_file_url(emu.base_file_url).build())
        user = emu.make_user("Ann")
        chat = emu.make_private_chat(user)
        emu.send_text(chat, user, "/start")
        ...  # run the app, then
        emu.wait_for(lambda e: e.bot_messages(chat["id"]))
        assert emu.violations == []

What it checks
--------------
Every request is validated against the machine-readable Bot API spec
(``shared/data/telegram/api.json``): unknown method, unknown parameter, missing
required parameter, wrong type (recursively through objects, arrays and unions such
as ``InputMedia``), dangling ``attach://`` references. On top of that, the semantic
checks Telegram itself makes: text empty / too long, bad ``parse_mode`` markup,
``callback_data`` over 64 bytes, editing / deleting / replying to a message that does
not exist, answering an unknown callback query, unknown ``file_id`` or chat, ...

*Violations.* Every 400 answer is recorded in :attr:`TelegramEmulator.violations`
**except** "message is not modified": Telegram answers that to a perfectly correct bot
(a double tap re-sends the same edit), so callers must cope with it, but it is not a
bug. 403 (bot kicked), 409 (two pollers) and 429 (flood) are not violations either;
every non-200 answer is in :attr:`TelegramEmulator.errors`, 429s also in
:attr:`TelegramEmulator.rate_limited`. In JSON request bodies types are strict
(``"1"`` is not an Integer); in form posts (what PTB sends) every value is a string and
is coerced by the declared type, as Telegram does.

Flood limits (see :class:`FloodLimits`)
---------------------------------------
Leaky buckets, the same algorithm as ``aiolimiter`` under PTB's ``AIORateLimiter``,
so a bot that uses that limiter with the same numbers never trips them:

* private chat: burst of 5, then 1 message per second ("avoid more than one message
  per second in a single chat; short bursts are allowed");
* group / supergroup / channel (chat id < 0): 20 messages per 60 s, burst 20;
* overall: 30 messages per second (skipped for ``allow_paid_broadcast``).

Counted: every ``send*`` method except ``sendChatAction`` (a media group counts once,
as PTB's limiter counts one request), ``copyMessage``/``forwardMessage`` and, since
Telegram limits edits too, every ``editMessage*`` against the *same* per-chat budget
(``FloodLimits.count_edits``). Rejected requests consume nothing. A small time grace
(default 0.25 s) absorbs the jitter between the client's send time and our receive time.

Not emulated: webhooks (only deleteWebhook/getWebhookInfo), inline-message edits
(accepted and answered ``True``), privacy mode (the bot sees every group message),
business/forum/payment features. Spec methods without a handler here answer
``{"ok": true, "result": true}`` after validation.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import io
import itertools
import json
import logging
import math
import mimetypes
import os
import re
import secrets
import socket
import struct
import threading
import time
import wave
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "ApiSpec",
    "EmulatorViolation",
    "FloodLimits",
    "TelegramEmulator",
    "Upload",
    "default_spec_path",
]

_LOG = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TOKEN = "123456789:AAEmulatorTestToken_0123456789abcdefgh"

# Telegram's own limits (https://core.telegram.org/bots/api, "Sending files", FAQ).
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
CALLBACK_ANSWER_LIMIT = 200
GET_FILE_LIMIT = 20 * 1024 * 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)
# Telegram's default when allowed_updates was never set.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# send method -> the message field / media kind it produces.
MEDIA_METHODS: dict[str, str] = {
    "sendPhoto": "photo",
    "sendVideo": "video",
    "sendDocument": "document",
    "sendAudio": "audio",
    "sendAnimation": "animation",
    "sendVoice": "voice",
    "sendVideoNote": "video_note",
    "sendSticker": "sticker",
}
_KIND_FOLDER = {
    "photo": "photos", "video": "videos", "document": "documents", "audio": "music",
    "animation": "animations", "voice": "voice", "video_note": "video_notes",
    "sticker": "stickers",
}
_KIND_MIME = {
    "photo": "image/jpeg", "video": "video/mp4", "document": "application/octet-stream",
    "audio": "audio/mpeg", "animation": "video/mp4", "voice": "audio/ogg",
    "video_note": "video/mp4", "sticker": "image/webp",
}


def default_spec_path() -> Path:
    """``$CHOREO_SHARED_DATA/telegram/api.json``, else ``<repo>/../shared/data/telegram/api.json``."""
    base = os.environ.get("CHOREO_SHARED_DATA")
    root = Path(base) if base else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return root / "telegram" / "api.json"


class ApiError(Exception):
    """An error answer of the Bot API (``{"ok": false, ...}``)."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class _ClientGone(Exception):
    """The HTTP client hung up while its request waited (e.g. a cancelled long poll)."""


class EmulatorViolation(AssertionError):
    """Raised by :meth:`TelegramEmulator.wait_for` when the bot made a bad request meanwhile."""


def bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets and text length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------
# The spec and the validator
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    """A file part of a multipart/form-data request."""

    name: str
    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # keeps logs free of file bytes
        return f"<Upload {self.name} {self.filename!r} {len(self.data)} B>"


_PRIMITIVES = frozenset({"Integer", "Float", "String", "Boolean"})
# A subtype's discriminator: 'Type of the result, must be article' / 'always “emoji”'.
_FIXED_VALUE = re.compile(r"(?:must be|always)\s+[“\"]?([a-z_0-9]+)[”\"]?\s*$")
_INT_RE = re.compile(r"[+-]?\d+")


class ApiSpec:
    """The Bot API spec (``api.json``) and a validator for request parameters."""

    def __init__(self, spec: dict[str, Any]):
        self.version: str = spec.get("version", "?")
        self.methods: dict[str, dict[str, Any]] = spec["methods"]
        self.types: dict[str, dict[str, Any]] = spec["types"]
        # Telegram matches method names case-insensitively.
        self._method_by_lower = {name.lower(): name for name in self.methods}
        self._fields = {
            name: {f["name"]: f for f in m.get("fields", [])} for name, m in self.methods.items()
        }
        self._type_fields = {
            name: {f["name"]: f for f in t.get("fields", [])} for name, t in self.types.items()
        }
        # (type, field) -> the literal value that field must have ('type' of a subtype).
        self._fixed: dict[tuple[str, str], str] = {}
        for tname, tfields in self._type_fields.items():
            for fname, f in tfields.items():
                if fname in ("type", "status", "source"):
                    m = _FIXED_VALUE.search(f.get("description", ""))
                    if m:
                        self._fixed[(tname, fname)] = m.group(1)

    @classmethod
    @functools.lru_cache(maxsize=4)
    def load(cls, path: Path | str | None = None) -> ApiSpec:
        """Load (once per path) the spec file."""
        p = Path(path) if path else default_spec_path()
        with open(p, encoding="utf-8") as fh:
            return cls(json.load(fh))

    def canonical_method(self, name: str) -> str | None:
        return self._method_by_lower.get(name.lower())

    def method_fields(self, method: str) -> dict[str, dict[str, Any]]:
        return self._fields[method]

    def type_fields(self, type_name: str) -> dict[str, dict[str, Any]]:
        return self._type_fields.get(type_name, {})

    # ---- requests ------------------------------------------------------------------

    def validate_request(
        self, method: str, raw: dict[str, Any], uploads: dict[str, Upload], form: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """Check ``raw`` (+ file parts) against ``method``; return (typed params, errors).

        ``form``: values came from a form post, so they are strings to be coerced by
        the declared type (objects and arrays as JSON strings), as Telegram does.
        """
        fields = self.method_fields(method)
        params: dict[str, Any] = {}
        errors: list[str] = []
        raw = {k: v for k, v in raw.items() if v is not None}  # JSON null = not given
        for name, value in raw.items():
            spec_field = fields.get(name)
            if spec_field is None:
                errors.append(f'unknown parameter "{name}" for method {method}')
                continue
            typed, errs = self._check_field(value, spec_field["types"], name, form)
            errors.extend(errs)
            if not errs:
                params[name] = typed
        for name, upload in uploads.items():
            spec_field = fields.get(name)
            if spec_field is None:
                continue  # an attach:// part; checked below
            if "InputFile" not in spec_field["types"]:
                errors.append(f'parameter "{name}" can\'t be a file upload (expected {_types_str(spec_field["types"])})')
            elif name in raw:
                errors.append(f'parameter "{name}" given both as a value and as a file part')
            else:
                params[name] = upload
        for name, f in fields.items():
            if f["required"] and name not in raw and name not in uploads:
                errors.append(f'parameter "{name}" is required')
        # attach://name must point at an uploaded part, and every part must be used.
        referenced = set(_attach_refs(params))
        for ref in sorted(referenced - set(uploads)):
            errors.append(f'can\'t find attached file "attach://{ref}" in the multipart request')
        for name in sorted(set(uploads) - referenced - set(fields)):
            errors.append(f'file part "{name}" is neither a parameter nor referenced via attach://')
        return params, errors

    def _check_field(
        self, value: Any, types: list[str], path: str, form: bool
    ) -> tuple[Any, list[str]]:
        """Value against a union of types; returns (coerced value, errors)."""
        if len(types) > 1 and all(t.startswith("Array of ") for t in types):
            # "Array of A or Array of B" in the spec means one array whose items may mix
            # A and B (sendMediaGroup: photos and videos together).
            if form and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    return value, [f"{path}: can't parse {_types_str(types)} JSON: {value[:60]!r}"]
            if not isinstance(value, list):
                return value, [f"{path}: expected {_types_str(types)}, got {_describe(value)}"]
            inner = [t[len("Array of "):] for t in types]
            errors = [e for i, item in enumerate(value) for e in self._check_field(item, inner, f"{path}[{i}]", False)[1]]
            return value, errors
        best: list[str] | None = None
        # Try non-String types first, so "42" in a form post becomes Integer 42.
        for t in sorted(types, key=lambda t: t == "String"):
            if form and isinstance(value, str):
                typed, errs = self._coerce_form(value, t, path)
            else:
                typed, errs = value, self.check_value(value, t, path)
            if not errs:
                return typed, []
            if best is None or len(errs) < len(best):
                best = errs
        if len(types) > 1 and best and all(e.startswith(f"{path}: expected") for e in best):
            return value, [f"{path}: expected {_types_str(types)}, got {_describe(value)}"]
        return value, best or []

    def _coerce_form(self, value: str, t: str, path: str) -> tuple[Any, list[str]]:
        if t in ("String", "InputFile"):
            return value, []
        if t == "Integer":
            if _INT_RE.fullmatch(value.strip()):
                return int(value), []
            return value, [f"{path}: expected Integer, got {value!r}"]
        if t == "Float":
            try:
                return float(value), []
            except ValueError:
                return value, [f"{path}: expected Float, got {value!r}"]
        if t == "Boolean":
            low = value.strip().lower()
            if low in ("true", "1"):
                return True, []
            if low in ("false", "0"):
                return False, []
            return value, [f"{path}: expected Boolean, got {value!r}"]
        try:  # objects and arrays travel as JSON strings in form posts
            parsed = json.loads(value)
        except ValueError:
            return value, [f"{path}: can't parse {t} JSON object: {value[:60]!r}"]
        return parsed, self.check_value(parsed, t, path)

    def check_value(self, value: Any, t: str, path: str = "value") -> list[str]:
        """Errors of a JSON value against one spec type (recursively)."""
        if t == "Integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif t == "Float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif t == "String":
            ok = isinstance(value, str)
        elif t == "Boolean":
            ok = isinstance(value, bool)
        elif t == "InputFile":
            # Inside JSON a file can only be a reference: file_id, URL or attach://name.
            ok = isinstance(value, (str, Upload))
        elif t.startswith("Array of "):
            if not isinstance(value, list):
                return [f"{path}: expected {t}, got {_describe(value)}"]
            inner = t[len("Array of "):]
            errors: list[str] = []
            for i, item in enumerate(value):
                errors.extend(self.check_value(item, inner, f"{path}[{i}]"))
            return errors
        elif t in self.types:
            return self._check_object(value, t, path)
        else:
            return []  # a name the spec does not define: nothing to check against
        return [] if ok else [f"{path}: expected {t}, got {_describe(value)}"]

    def _check_object(self, value: Any, t: str, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected {t} object, got {_describe(value)}"]
        spec_type = self.types[t]
        subtypes: list[str] = spec_type.get("subtypes", [])
        if subtypes:
            # A union (InputMedia, BotCommandScope, ...): prefer the subtypes whose
            # discriminator matches, accept the first that validates.
            candidates = [s for s in subtypes if self._discriminator_matches(s, value)] or subtypes
            best: list[str] | None = None
            for sub in candidates:
                errs = self.check_value(value, sub, path)
                if not errs:
                    return []
                if best is None or len(errs) < len(best):
                    best = errs
            return best or []
        tfields = self._type_fields.get(t, {})
        errors = []
        for key, item in value.items():
            f = tfields.get(key)
            if f is None:
                errors.append(f'{path}: unknown field "{key}" for {t}')
                continue
            fixed = self._fixed.get((t, key))
            if fixed is not None and item != fixed:
                errors.append(f'{path}.{key}: must be "{fixed}" for {t}, got {item!r}')
                continue
            _, errs = self._check_field(item, f["types"], f"{path}.{key}", form=False)
            errors.extend(errs)
        for key, f in tfields.items():
            if f["required"] and key not in value:
                errors.append(f'{path}: field "{key}" is required for {t}')
        return errors

    def _discriminator_matches(self, sub: str, value: dict[str, Any]) -> bool:
        for key in ("type", "status", "source"):
            fixed = self._fixed.get((sub, key))
            if fixed is not None:
                return value.get(key) == fixed
        return False

    # ---- responses -----------------------------------------------------------------

    def fill_required(self, t: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Give ``obj`` every required field of type ``t`` it lacks (False / 0 / "" / {...}).

        Keeps our answers valid for PTB as the spec grows required fields.
        """
        for name, f in self._type_fields.get(t, {}).items():
            if not f["required"] or name in obj:
                continue
            ftype = f["types"][0]
            if ftype == "Boolean":
                obj[name] = False
            elif ftype in ("Integer", "Float"):
                obj[name] = 0
            elif ftype == "String":
                obj[name] = self._fixed.get((t, name), "")
            elif ftype.startswith("Array of "):
                obj[name] = []
            elif ftype in self.types:
                obj[name] = self.fill_required(ftype, {})
        return obj


def _types_str(types: list[str]) -> str:
    return " or ".join(types)


def _describe(value: Any) -> str:
    if isinstance(value, Upload):
        return "a file upload"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f"{type(value).__name__} {text[:60]}"


def _attach_refs(value: Any) -> Iterator[str]:
    """Names referenced as ``attach://name`` anywhere inside ``value``."""
    if isinstance(value, str):
        if value.startswith("attach://"):
            yield value[len("attach://"):]
    elif isinstance(value, dict):
        for v in value.values():
            yield from _attach_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _attach_refs(v)


# --------------------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------------------

_HEADER_PARAM = re.compile(r';\s*([\w*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _header_params(value: str) -> dict[str, str]:
    """``form-data; name="x"; filename="y"`` -> {"name": "x", "filename": "y"}."""
    out = {}
    for key, raw in _HEADER_PARAM.findall(value):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if key.endswith("*"):  # RFC 2231/5987: utf-8''percent-encoded
            key = key[:-1]
            raw = unquote(raw.split("''", 1)[-1])
        out[key.lower()] = raw.replace("%22", '"')
    return out


def parse_multipart(body: bytes, boundary: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """Split a multipart/form-data body into text fields and file parts.

    Parts are delimited by CRLF + "--boundary" (RFC 7578); the first delimiter has no
    leading CRLF, so one is prepended. Part data is kept byte-exact.
    """
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    for part in (b"\r\n" + body).split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # closing delimiter
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, val = line.partition(":")
            headers[key.strip().lower()] = val.strip()
        disp = _header_params(headers.get("content-disposition", ""))
        name = disp.get("name")
        if not name:
            continue
        if "filename" in disp:
            files[name] = Upload(
                name, disp["filename"], headers.get("content-type", "application/octet-stream"), data
            )
        else:
            fields[name] = data.decode("utf-8")
    return fields, files


# --------------------------------------------------------------------------------------
# Formatting: parse_mode -> plain text + entities
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Media probing (stdlib only, best effort: any failure just leaves the field out)
# --------------------------------------------------------------------------------------

def _mp4_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[i + 8:i + 16])[0]
            header = 16
        elif size == 0:
            size = end - i
        if size < header:
            return
        yield kind, i + header, min(i + size, end)
        i += size


def _probe_mp4(data: bytes) -> dict[str, float]:
    info: dict[str, float] = {}
    for kind, s, e in _mp4_boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for k2, s2, e2 in _mp4_boxes(data, s, e):
            if k2 == b"mvhd":
                if data[s2] == 1:
                    timescale, duration = struct.unpack(">IQ", data[s2 + 20:s2 + 32])
                else:
                    timescale, duration = struct.unpack(">II", data[s2 + 12:s2 + 20])
                if timescale:
                    info["duration"] = duration / timescale
            elif k2 == b"trak":
                width = height = 0
                handler = b""
                for k3, s3, e3 in _mp4_boxes(data, s2, e2):
                    if k3 == b"tkhd":
                        width, height = (v >> 16 for v in struct.unpack(">II", data[e3 - 8:e3]))
                    elif k3 == b"mdia":
                        for k4, s4, _ in _mp4_boxes(data, s3, e3):
                            if k4 == b"hdlr":
                                handler = data[s4 + 8:s4 + 12]
                if handler == b"vide" and width and height and "width" not in info:
                    info["width"], info["height"] = width, height
    return info


def _probe_avi(data: bytes) -> dict[str, float]:
    at = data.find(b"avih", 0, 65536)
    if at < 0:
        return {}
    h = at + 8
    usec_per_frame, _, _, _, frames = struct.unpack("<5I", data[h:h + 20])
    width, height = struct.unpack("<II", data[h + 32:h + 40])
    return {"duration": frames * usec_per_frame / 1e6, "width": width, "height": height}


def _probe_ogg(data: bytes) -> dict[str, float]:
    packet = data[27 + data[26]:]
    pre_skip = 0
    if packet.startswith(b"\x01vorbis"):
        rate = struct.unpack("<I", packet[12:16])[0]
    elif packet.startswith(b"OpusHead"):
        rate, pre_skip = 48000, struct.unpack("<H", packet[10:12])[0]
    else:
        return {}
    last = data.rfind(b"OggS")
    granule = struct.unpack("<q", data[last + 6:last + 14])[0]
    return {"duration": max(0, granule - pre_skip) / rate} if rate else {}


def _probe_image(data: bytes) -> dict[str, float]:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        w, h = struct.unpack(">II", data[16:24])
        return {"width": w, "height": h}
    if data[:6] in (b"GIF87a", b"GIF89a"):
        w, h = struct.unpack("<HH", data[6:10])
        return {"width": w, "height": h}
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
                i += 2 if marker != 0xFF else 1
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return {"width": w, "height": h}
            i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return {"width": w, "height": h}
    return {}


def probe_media(data: bytes) -> dict[str, float]:
    """width / height / duration (seconds) from the bytes, whatever of them can be read."""
    try:
        if data[4:8] == b"ftyp":
            return _probe_mp4(data)
        if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
            return _probe_avi(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            with wave.open(io.BytesIO(data)) as w:
                return {"duration": w.getnframes() / w.getframerate()}
        if data[:4] == b"OggS":
            return _probe_ogg(data)
        return _probe_image(data)
    except (struct.error, IndexError, ValueError, EOFError, wave.Error, ZeroDivisionError):
        return {}


# --------------------------------------------------------------------------------------
# Flood limits
# --------------------------------------------------------------------------------------

@dataclass
class FloodLimits:
    """Telegram-like flood limits; each is ``(burst, period_seconds)`` or ``None`` (off).

    ``(n, p)`` is a leaky bucket of capacity ``n`` draining ``n / p`` per second, the
    same model as ``aiolimiter.AsyncLimiter(n, p)`` inside PTB's ``AIORateLimiter``.
    """

    private: tuple[int, float] | None = (5, 5.0)  # per private chat: 1/s, burst 5
    group: tuple[int, float] | None = (20, 60.0)  # per group/channel (id < 0): 20/min
    overall: tuple[int, float] | None = (30, 1.0)  # whole bot: 30/s
    count_edits: bool = True  # editMessage* share the per-chat and overall budgets
    grace: float = 0.25  # seconds of client/server timing jitter we forgive (busy CI)

    @classmethod
    def off(cls) -> FloodLimits:
        return cls(private=None, group=None, overall=None)


class _Bucket:
    def __init__(self, capacity: int, period: float) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self.level = 0.0
        self.stamp = time.monotonic()

    def wait_needed(self, now: float, grace: float) -> float:
        """Seconds until one more message fits (0 = fits now)."""
        self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
        self.stamp = now
        excess = self.level + 1 - self.capacity - grace * self.rate
        return max(0.0, excess / self.rate)


def _counts_for_flood(method: str, edits: bool) -> bool:
    if method.startswith("send") and method != "sendChatAction":
        return True
    if method in ("copyMessage", "forwardMessage", "copyMessages", "forwardMessages"):
        return True
    return edits and method.startswith("editMessage")


# --------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------

@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    media: dict[str, Any] = field(default_factory=dict)  # the Telegram object (Video, ...)


@dataclass
class _Msg:
    chat_id: int
    data: dict[str, Any]  # the Telegram Message, current state
    kind: str
    by_bot: bool
    file_id: str | None = None
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Chat:
    data: dict[str, Any]  # the Telegram Chat
    members: list[int] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)
    owner: int | None = None
    bot_status: str = "member"  # member | administrator | kicked | left
    next_message_id: int = 1
    messages: dict[int, _Msg] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.data["id"]

    @property
    def is_private(self) -> bool:
        return self.data["type"] == "private"


ChatRef = dict[str, Any] | int
UserRef = dict[str, Any] | int


# --------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------

class TelegramEmulator:
    """A thread-safe fake Bot API server; see the module docstring.

    All state is guarded by one re-entrant lock; a condition variable on it wakes
    long polls and :meth:`wait_for` whenever anything changes.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        spec_path: Path | str | None = None,
        flood: FloodLimits | None = None,
        bot_first_name: str = "Choreo",
        bot_username: str = "choreo_test_bot",
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("token must look like '<bot id>:<secret>'")
        self.token = token
        self.host = host
        self.port = port
        self.spec = ApiSpec.load(Path(spec_path) if spec_path else default_spec_path())
        self.flood = flood if flood is not None else FloodLimits()
        self.on_event = on_event
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id), "is_bot": True, "first_name": bot_first_name,
            "username": bot_username, "can_join_groups": True,
            "can_read_all_group_messages": True, "supports_inline_queries": True,
        }

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._pending_events: list[dict[str, Any]] = []
        self._tag = secrets.token_hex(3)  # keeps file ids of two emulators apart
        self._user_ids = itertools.count(1001)
        self._group_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, _Chat] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._callback_queries: dict[str, dict[str, Any]] = {}  # unanswered
        self._inline_queries: dict[str, dict[str, Any]] = {}  # unanswered
        self._buckets: dict[Any, _Bucket] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._closing = False
        self._version = 0  # bumped on every change; lets waiters detect missed wake-ups
        self._local = threading.local()  # per request thread: .client_alive() callback
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        # What happened, for tests to assert on (append-only, guarded by the lock).
        self.violations: list[str] = []
        self.errors: list[dict[str, Any]] = []
        self.rate_limited: list[tuple[str, int]] = []  # (method, chat id)
        self.requests: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.inline_answers: list[dict[str, Any]] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.uploads: Counter[str] = Counter()  # method -> number of new files uploaded
        self.uploaded_files: list[dict[str, Any]] = []  # method, field, file_id, sha256, size

        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, Upload]], Any]] = {
            "getMe": self._api_get_me,
            "getUpdates": self._api_get_updates,
            "deleteWebhook": self._api_delete_webhook,
            "getWebhookInfo": self._api_get_webhook_info,
            "setMyCommands": self._api_set_my_commands,
            "getMyCommands": self._api_get_my_commands,
            "deleteMyCommands": self._api_delete_my_commands,
            "getFile": self._api_get_file,
            "sendMessage": self._api_send_message,
            "sendMediaGroup": self._api_send_media_group,
            "sendChatAction": self._api_send_chat_action,
            "editMessageText": self._api_edit_message_text,
            "editMessageCaption": self._api_edit_message_caption,
            "editMessageReplyMarkup": self._api_edit_message_reply_markup,
            "editMessageMedia": self._api_edit_message_media,
            "answerCallbackQuery": self._api_answer_callback_query,
            "answerInlineQuery": self._api_answer_inline_query,
            "deleteMessage": self._api_delete_message,
            "deleteMessages": self._api_delete_messages,
            "getChat": self._api_get_chat,
            "getChatMember": self._api_get_chat_member,
            "getChatAdministrators": self._api_get_chat_administrators,
            "leaveChat": self._api_leave_chat,
        }
        for method in MEDIA_METHODS:
            self._handlers[method] = functools.partial(self._api_send_media, method)

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> TelegramEmulator:
        """Serve in a background thread (idempotent). Returns ``self``."""
        with self._lock:
            if self._server is not None:
                return self
            self._closing = False
            server = _Server((self.host, self.port), _Handler, self)
            self._server = server
            self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"telegram-emulator:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake long polls, close connections, join the thread."""
        with self._lock:
            server, self._server = self._server, None
            self._closing = True
            self._changed()
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TelegramEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (PTB appends the token)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    # ---- test side: people and chats -------------------------------------------------

    def make_user(
        self, first_name: str, username: str | None = None, language_code: str | None = "en",
        *, last_name: str | None = None,
    ) -> dict[str, Any]:
        """A new (human) Telegram user."""
        with self._lock:
            user: dict[str, Any] = {"id": next(self._user_ids), "is_bot": False, "first_name": first_name}
            if last_name:
                user["last_name"] = last_name
            if username:
                user["username"] = username
            if language_code:
                user["language_code"] = language_code
            self._users[user["id"]] = user
            return dict(user)

    def make_private_chat(self, user: UserRef) -> dict[str, Any]:
        """The private chat between ``user`` and the bot (same id as the user)."""
        with self._lock:
            u = self._user(user)
            if u["id"] in self._chats:
                return dict(self._chats[u["id"]].data)
            data = {"id": u["id"], "type": "private", "first_name": u["first_name"]}
            for key in ("last_name", "username"):
                if key in u:
                    data[key] = u[key]
            self._chats[u["id"]] = _Chat(data=data, members=[u["id"]])
            return dict(data)

    def make_group(
        self, title: str, members: list[UserRef], admins: list[UserRef] | None = None,
        *, supergroup: bool = False, bot_is_admin: bool = False, username: str | None = None,
    ) -> dict[str, Any]:
        """A group with the bot in it. The owner is the first admin (or first member)."""
        with self._lock:
            n = next(self._group_ids)
            chat_id = -(1001000000000 + n) if supergroup else -(4000000000 + n)
            data: dict[str, Any] = {"id": chat_id, "type": "supergroup" if supergroup else "group", "title": title}
            if username:
                data["username"] = username
            member_ids = [self._user(m)["id"] for m in members]
            admin_ids = [self._user(a)["id"] for a in admins or []]
            for a in admin_ids:
                if a not in member_ids:
                    member_ids.append(a)
            owner = admin_ids[0] if admin_ids else (member_ids[0] if member_ids else None)
            self._chats[chat_id] = _Chat(
                data=data, members=member_ids, admins=admin_ids, owner=owner,
                bot_status="administrator" if bot_is_admin else "member",
            )
            return dict(data)

    def remove_bot_from_chat(self, chat: ChatRef, by: UserRef | None = None) -> None:
        """Kick the bot (group) / block it (private); later sends answer 403."""
        with self._lock:
            c = self._chat(chat)
            old = self._member_object(c, self.bot_user["id"])
            c.bot_status = "kicked"
            actor = self._user(by) if by is not None else self._users.get(c.owner or 0, self._any_user(c))
            self._queue_update("my_chat_member", {
                "chat": dict(c.data), "from": dict(actor), "date": int(time.time()),
                "old_chat_member": old,
                "new_chat_member": self._member_object(c, self.bot_user["id"]),
            })
            self._emit({"type": "member", "chat_id": c.id, "status": "kicked"})
        self._flush_events()

    # ---- test side: what users do ----------------------------------------------------

    def send_text(
        self, chat: ChatRef, user: UserRef, text: str, reply_to: int | None = None,
        *, entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A user writes ``text`` (entities auto-detected); returns the Message."""
        with self._lock:
            c, u = self._chat(chat), self._user(user)
            fields: dict[str, Any] = {"text": text}
            ents = detect_entities(text) if entities is None else entities
            if ents:
                fields["entities"] = ents
            msg = self._add_message(c, u, by_bot=False, kind="text", fields=fields, reply_to=reply_to)
            self._deliver_user_message(c, msg)
            result = copy.deepcopy(msg.data)
        self._flush_events()
        return result

    def send_file(
        self, chat: ChatRef, user: UserRef, path: str | Path | bytes, kind: str = "document",
        caption: str | None = None, duration: float | None = None, mime_type: str | None = None,
        file_name: str | None = None, reply_to: int | None = None,
        *, width: int | None = None, height: int | None = None,
    ) -> dict[str, Any]:
        """A user sends a file as ``kind`` (audio, voice, video, video_note, document,
        photo, sticker, animation); it can then be fetched with getFile. Returns the Message."""
        if kind not in _KIND_FOLDER:
            raise ValueError(f"unknown kind {kind!r}; one of {sorted(_KIND_FOLDER)}")
        if isinstance(path, bytes):
            data = path
        else:
            data = Path(path).read_bytes()
            file_name = file_name or Path(path).name
        with self._lock:
            c, u = self._chat(chat), self._user(user)
            overrides = {k: v for k, v in (("duration", duration), ("width", width), ("height", height)) if v is not None}
            stored = self._store_file(kind, data, file_name, mime_type, overrides)
            media = copy.deepcopy(stored.media)
            fields: dict[str, Any] = {kind: [media] if kind == "photo" else media}
            if caption:
                fields["caption"] = caption
                ents = detect_entities(caption)
                if ents:
                    fields["caption_entities"] = ents
            msg = self._add_message(c, u, by_bot=False, kind=kind, fields=fields, reply_to=reply_to, file_id=stored.file_id)
            self._deliver_user_message(c, msg)
            result = copy.deepcopy(msg.data)
        self._flush_events()
        return result

    def press_button(
        self, chat: ChatRef, user: UserRef, message_id: int, callback_data: str | None = None,
        *, text: str | None = None, check: bool = True,
    ) -> str:
        """A user taps an inline button (by ``callback_data`` or by label ``text``).

        With ``check`` the button must exist on the message as it is now (a stale
        keyboard can be tapped with ``check=False``). Returns the callback query id.
        """
        with self._lock:
            c, u = self._chat(chat), self._user(user)
            msg = c.messages.get(message_id)
            if msg is None or msg.deleted:
                raise ValueError(f"message {message_id} does not exist in chat {c.id}")
            buttons = [b for row in (msg.data.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            if text is not None or check:
                match = [b for b in buttons if (text is None or b.get("text") == text)
                         and (callback_data is None or b.get("callback_data") == callback_data)]
                if not match or "callback_data" not in match[0]:
                    raise ValueError(
                        f"message {message_id} has no callback button "
                        f"{text or callback_data!r}; buttons: {[(b.get('text'), b.get('callback_data')) for b in buttons]}"
                    )
                callback_data = match[0]["callback_data"]
            if callback_data is None:
                raise ValueError("give callback_data or text")
            query_id = f"{self._tag}{next(self._query_ids):08d}"
            query = {
                "id": query_id, "from": dict(u), "message": copy.deepcopy(msg.data),
                "chat_instance": str(abs(hash((self._tag, c.id)))), "data": callback_data,
            }
            self._callback_queries[query_id] = query
            self._queue_update("callback_query", query)
            return query_id

    def inline_query(self, user: UserRef, query: str, offset: str = "", chat_type: str | None = "private") -> str:
        """A user types ``@bot query``; returns the inline query id."""
        with self._lock:
            u = self._user(user)
            query_id = f"{self._tag}{next(self._query_ids):08d}"
            obj: dict[str, Any] = {"id": query_id, "from": dict(u), "query": query, "offset": offset}
            if chat_type:
                obj["chat_type"] = chat_type
            self._inline_queries[query_id] = obj
            self._queue_update("inline_query", obj)
            return query_id

    def inject_update(self, kind: str, obj: dict[str, Any]) -> int:
        """Queue any other update (``kind`` is the Update field, e.g. ``"poll_answer"``)."""
        with self._lock:
            return self._queue_update(kind, copy.deepcopy(obj))

    # ---- test side: what the bot did -------------------------------------------------

    def messages(self, chat_id: ChatRef) -> list[dict[str, Any]]:
        """All messages of the chat in order (users' and bot's, deleted ones flagged).

        Each is the Telegram Message plus ``kind``, ``by_bot``, ``deleted``,
        ``file_id`` (main media), ``edit_history`` (earlier states, oldest first);
        ``text``, ``caption`` and ``reply_markup`` are always present (maybe None).
        """
        with self._lock:
            c = self._chat(chat_id)
            return [self._view(m) for m in c.messages.values()]

    def bot_messages(self, chat_id: ChatRef, include_deleted: bool = True) -> list[dict[str, Any]]:
        return [m for m in self.messages(chat_id) if m["by_bot"] and (include_deleted or not m["deleted"])]

    def message(self, chat_id: ChatRef, message_id: int) -> dict[str, Any]:
        with self._lock:
            return self._view(self._chat(chat_id).messages[message_id])

    def buttons(self, chat_id: ChatRef, message_id: int) -> list[list[tuple[str, str | None]]]:
        """The message's inline keyboard as rows of (label, callback_data)."""
        markup = self.message(chat_id, message_id)["reply_markup"] or {}
        return [[(b["text"], b.get("callback_data")) for b in row] for row in markup.get("inline_keyboard", [])]

    def file_bytes(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id].data

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def wait_for(
        self, predicate: Callable[[TelegramEmulator], T], timeout: float = 5.0,
        *, fail_on_violation: bool = True,
    ) -> T:
        """Block until ``predicate(emu)`` is truthy; return its value.

        Raises :class:`TimeoutError` (with the last requests, for diagnosis), or
        :class:`EmulatorViolation` at once if the bot makes an invalid request while we
        wait (``fail_on_violation``). The predicate runs without the lock held, so it
        may do anything (even call the server). Do not call this on the event loop the
        bot runs on: use :meth:`wait_for_async` there.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            seen = len(self.violations)
        while True:
            with self._lock:
                version = self._version  # read before the check, so no change is missed
            result = predicate(self)
            if result:
                return result
            with self._cond:
                if fail_on_violation and len(self.violations) > seen:
                    raise EmulatorViolation(f"bot made an invalid request: {self.violations[seen:]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met in {timeout} s; {self.describe_recent()}")
                if self._version == version:
                    self._cond.wait(remaining)

    async def wait_for_async(
        self, predicate: Callable[[TelegramEmulator], T], timeout: float = 5.0,
        *, fail_on_violation: bool = True,
    ) -> T:
        """:meth:`wait_for` for async code: the predicate runs on the caller's loop."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        entry = (loop, event)
        with self._lock:
            self._async_waiters.add(entry)
            seen = len(self.violations)
        try:
            deadline = loop.time() + timeout
            while True:
                event.clear()  # clear before checking, so no wake-up is lost
                result = predicate(self)
                if result:
                    return result
                if fail_on_violation and len(self.violations) > seen:
                    raise EmulatorViolation(f"bot made an invalid request: {self.violations[seen:]}")
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met in {timeout} s; {self.describe_recent()}")
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
        finally:
            with self._lock:
                self._async_waiters.discard(entry)

    def describe_recent(self, n: int = 8) -> str:
        """The last ``n`` requests and all violations, one line each."""
        with self._lock:
            lines = [f"{r['method']} -> {r['status']} {r.get('description') or ''}".rstrip() for r in self.requests[-n:]]
            return f"last requests: {lines}; violations: {self.violations}"

    # ---- internals: state helpers (call with the lock held) ---------------------------

    def _changed(self) -> None:
        """Wake everyone waiting on state: long polls, wait_for, wait_for_async."""
        self._version += 1
        self._cond.notify_all()
        for loop, event in list(self._async_waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # loop closed
                self._async_waiters.discard((loop, event))

    def _emit(self, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self._pending_events.append(event)

    def _flush_events(self) -> None:
        """Run ``on_event`` callbacks without the lock, so they may call back into us."""
        if self.on_event is None:
            return
        with self._lock:
            events, self._pending_events = self._pending_events, []
        for event in events:
            try:
                self.on_event(event)
            except Exception:  # a broken listener must not break the server
                _LOG.exception("on_event callback failed")

    def _user(self, ref: UserRef) -> dict[str, Any]:
        uid = ref["id"] if isinstance(ref, dict) else int(ref)
        if uid not in self._users:
            raise ValueError(f"unknown user {uid}; create it with make_user()")
        return self._users[uid]

    def _chat(self, ref: ChatRef) -> _Chat:
        cid = ref["id"] if isinstance(ref, dict) else int(ref)
        if cid not in self._chats:
            raise ValueError(f"unknown chat {cid}; create it with make_private_chat()/make_group()")
        return self._chats[cid]

    def _any_user(self, c: _Chat) -> dict[str, Any]:
        return self._users[c.members[0]] if c.members else self.bot_user

    def _view(self, m: _Msg) -> dict[str, Any]:
        view = copy.deepcopy(m.data)
        for key in ("text", "caption", "reply_markup"):
            view.setdefault(key, None)
        view.update(kind=m.kind, by_bot=m.by_bot, deleted=m.deleted, file_id=m.file_id,
                    edit_history=copy.deepcopy(m.history))
        return view

    def _queue_update(self, kind: str, obj: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, kind: obj})
        self._changed()
        return update_id

    def _add_message(
        self, c: _Chat, sender: dict[str, Any], *, by_bot: bool, kind: str, fields: dict[str, Any],
        reply_to: int | None = None, markup: dict[str, Any] | None = None, file_id: str | None = None,
    ) -> _Msg:
        data: dict[str, Any] = {
            "message_id": c.next_message_id, "from": dict(sender), "chat": dict(c.data),
            "date": int(time.time()),
        }
        c.next_message_id += 1
        if reply_to is not None:
            target = c.messages.get(reply_to)
            if target is None or target.deleted:
                raise ValueError(f"message {reply_to} does not exist in chat {c.id}")
            replied = copy.deepcopy(target.data)
            replied.pop("reply_to_message", None)  # Telegram nests one level only
            data["reply_to_message"] = replied
        data.update(fields)
        if markup and "inline_keyboard" in markup:  # only inline keyboards show on a Message
            data["reply_markup"] = markup
        msg = _Msg(chat_id=c.id, data=data, kind=kind, by_bot=by_bot, file_id=file_id)
        c.messages[data["message_id"]] = msg
        self._emit({"type": "message", "chat_id": c.id, "message": self._view(msg)})
        self._changed()
        return msg

    def _deliver_user_message(self, c: _Chat, msg: _Msg) -> None:
        if c.bot_status in ("member", "administrator"):
            self._queue_update("message", copy.deepcopy(msg.data))

    def _store_file(
        self, kind: str, data: bytes, file_name: str | None, mime_type: str | None,
        overrides: dict[str, Any] | None = None, url: str | None = None,
    ) -> _StoredFile:
        n = next(self._file_ids)
        file_id = f"{kind}-{self._tag}-{n:05d}"
        unique = "u" + hashlib.sha256(data if url is None else url.encode()).hexdigest()[:15]
        if mime_type is None:
            guessed = mimetypes.guess_type(file_name or "")[0]
            mime_type = guessed or _KIND_MIME[kind]
        ext = Path(file_name).suffix if file_name else (mimetypes.guess_extension(mime_type) or "")
        file_path = f"{_KIND_FOLDER[kind]}/file_{n}{ext}"
        stored = _StoredFile(file_id, unique, kind, data, file_path, mime_type, file_name)
        stored.media = self._media_object(stored, kind, overrides)
        self._files[file_id] = stored
        self._files_by_path[file_path] = stored
        return stored

    @staticmethod
    def _media_object(stored: _StoredFile, kind: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The Telegram object (Video, Audio, PhotoSize, ...) describing ``stored`` as ``kind``."""
        data, file_name, mime_type = stored.data, stored.file_name, stored.mime_type
        info = probe_media(data) if data else {}
        info.update(overrides or {})
        media: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                                 "file_size": len(data)}
        width, height = int(info.get("width", 0)), int(info.get("height", 0))
        duration = int(round(info.get("duration", 0)))
        if kind in ("video", "animation"):
            media.update(width=width, height=height, duration=duration)
        elif kind in ("audio", "voice"):
            media["duration"] = duration
        elif kind == "video_note":
            media.update(length=min(width, height) if width and height else 240, duration=duration)
        elif kind == "photo":
            media.update(width=width, height=height)
        elif kind == "sticker":
            media.update(type="regular", width=width or 512, height=height or 512,
                         is_animated=file_name is not None and file_name.endswith(".tgs"),
                         is_video=mime_type == "video/webm")
        if kind in ("video", "animation", "audio", "document") and file_name:
            media["file_name"] = file_name
        if kind not in ("photo", "sticker", "video_note"):
            media["mime_type"] = mime_type
        return media

    def _member_object(self, c: _Chat, user_id: int) -> dict[str, Any]:
        """ChatMember for ``user_id`` in ``c`` (the bot included)."""
        if user_id == self.bot_user["id"]:
            user, status = self.bot_user, c.bot_status
        else:
            user = self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "?"})
            if user_id == c.owner:
                status = "creator"
            elif user_id in c.admins:
                status = "administrator"
            elif user_id in c.members:
                status = "member"
            else:
                status = "left"
        obj: dict[str, Any] = {"status": status, "user": dict(user)}
        if status == "creator":
            obj["is_anonymous"] = False
            return obj
        if status == "administrator":
            for name in self.spec.type_fields("ChatMemberAdministrator"):
                if name.startswith("can_") and name != "can_be_edited":
                    obj[name] = True
            obj.update(can_be_edited=False, is_anonymous=False)
            return self.spec.fill_required("ChatMemberAdministrator", obj)
        if status == "kicked":
            obj["until_date"] = 0
        return obj

    # ---- internals: HTTP dispatch ----------------------------------------------------

    def _handle_api(
        self, token: str, method_name: str, raw: dict[str, Any], uploads: dict[str, Upload], form: bool
    ) -> tuple[int, dict[str, Any]]:
        """One Bot API call -> (HTTP status, JSON body). Records it."""
        with self._lock:
            method = self.spec.canonical_method(method_name) or method_name
            errors: list[str] = []
            try:
                if token != self.token:
                    raise ApiError(401, "Unauthorized")
                if self.spec.canonical_method(method_name) is None:
                    raise ApiError(404, "Not Found")
                params, errors = self.spec.validate_request(method, raw, uploads, form)
                if errors:  # the answer carries the first; all are recorded below
                    raise bad_request(errors[0])
                handler = self._handlers.get(method)
                result = handler(params, uploads) if handler else True
                status, body = 200, {"ok": True, "result": result}
            except _ClientGone:
                return 499, {}  # nobody to answer, nothing to record
            except ApiError as err:
                status, body = err.code, err.payload()
                if err.code == 404:
                    self.violations.append(f"{method_name}: no such Bot API method")
                elif errors:
                    self.violations.extend(f"{method}: Bad Request: {e}" for e in errors)
                elif err.code in (400, 401) and err.description != NOT_MODIFIED:
                    self.violations.append(f"{method}: {err.description}")
                self.errors.append({"method": method, "status": err.code, "description": err.description})
            except Exception as exc:  # our bug: make it loud
                _LOG.exception("emulator failed on %s", method)
                status, body = 500, {"ok": False, "error_code": 500, "description": f"Internal emulator error: {exc!r}"}
                self.violations.append(f"{method}: internal emulator error {exc!r}")
                self.errors.append({"method": method, "status": 500, "description": body["description"]})
            logged = {k: (repr(v) if isinstance(v, Upload) else v) for k, v in raw.items()}
            logged.update({k: repr(v) for k, v in uploads.items()})
            self.requests.append({"method": method, "params": logged, "status": status,
                                  "description": body.get("description"), "time": time.time()})
            self._changed()
        self._flush_events()
        return status, body

    def _file_download(self, token: str, file_path: str) -> bytes | None:
        with self._lock:
            stored = self._files_by_path.get(file_path)
            ok = token == self.token and stored is not None
            self.requests.append({"method": "<file download>", "params": {"file_path": file_path},
                                  "status": 200 if ok else 404, "description": None, "time": time.time()})
            if not ok:
                self.violations.append(f"file download: no file at {file_path!r} (or wrong token)")
                self.errors.append({"method": "<file download>", "status": 404, "description": "Not Found"})
                return None
            return stored.data  # type: ignore[union-attr]

    # ---- internals: shared checks ----------------------------------------------------

    def _resolve_chat(self, chat_id: int | str) -> _Chat:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for c in self._chats.values():
                if c.data.get("username", "").lower() == chat_id[1:].lower():
                    break
            else:
                raise bad_request("chat not found")
        else:
            c = self._chats.get(int(chat_id)) if str(chat_id).lstrip("-").isdigit() else None
            if c is None:
                raise bad_request("chat not found")
        if c.bot_status == "kicked":
            if c.is_private:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, f"Forbidden: bot was kicked from the {c.data['type']} chat")
        if c.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {c.data['type']} chat")
        return c

    def _take_flood(self, method: str, c: _Chat, params: dict[str, Any]) -> None:
        """Consume one message from the chat's and the global bucket, or answer 429."""
        limits = self.flood
        if not _counts_for_flood(method, limits.count_edits):
            return
        keys: list[tuple[Any, tuple[int, float]]] = []
        per_chat = limits.private if c.is_private else limits.group
        if per_chat:
            keys.append((("chat", c.id), per_chat))
        if limits.overall and not params.get("allow_paid_broadcast"):
            keys.append((("overall",), limits.overall))
        now = time.monotonic()
        buckets = []
        wait = 0.0
        for key, (burst, period) in keys:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.capacity != burst or bucket.rate != burst / period:
                bucket = self._buckets[key] = _Bucket(burst, period)
            wait = max(wait, bucket.wait_needed(now, limits.grace))
            buckets.append(bucket)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            self.rate_limited.append((method, c.id))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        for bucket in buckets:
            bucket.level += 1

    def _text_and_entities(
        self, text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None,
        limit: int, what: str,
    ) -> tuple[str, list[dict[str, Any]]]:
        plain, parsed = parse_formatted(text, parse_mode) if entities is None else (text, entities)
        size = utf16_len(plain.strip())
        if what == "text" and size == 0:
            raise bad_request("message text is empty")
        if utf16_len(plain) > limit:
            raise bad_request("message is too long" if what == "text" else "message caption is too long")
        for e in parsed:
            if e["offset"] < 0 or e["length"] <= 0 or e["offset"] + e["length"] > utf16_len(plain):
                raise bad_request(f"can't parse entities: entity {e} is out of the text bounds")
        return plain, parsed

    def _check_markup(self, markup: dict[str, Any] | None) -> None:
        if not markup or "inline_keyboard" not in markup:
            return
        for row in markup["inline_keyboard"]:
            for button in row:
                actions = [k for k in button if k not in ("text", "icon_custom_emoji_id", "style")]
                if not actions:
                    raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                if len(actions) > 1:
                    raise bad_request(f"can't parse inline keyboard button: exactly one of {actions} must be used")
                if not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                if "callback_data" in button:
                    size = len(button["callback_data"].encode())
                    if not 1 <= size <= CALLBACK_DATA_LIMIT:
                        raise bad_request("BUTTON_DATA_INVALID")
                style = button.get("style")
                if style is not None and style not in ("danger", "success", "primary"):
                    raise bad_request(f"can't parse inline keyboard button: unknown style {style!r}")

    def _reply_target(self, c: _Chat, params: dict[str, Any]) -> int | None:
        rp = params.get("reply_parameters")
        if not rp:
            return None
        target_chat = self._resolve_chat(rp["chat_id"]) if "chat_id" in rp else c
        target = target_chat.messages.get(rp["message_id"])
        if target is None or target.deleted:
            if rp.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return rp["message_id"] if target_chat is c else None

    def _resolve_file(
        self, method: str, kind: str, ref: Any, uploads: dict[str, Upload], field_name: str,
        overrides: dict[str, Any] | None = None,
    ) -> _StoredFile:
        """An InputFile argument -> stored file: new upload, attach://, file_id or URL."""
        upload: Upload | None = None
        if isinstance(ref, Upload):
            upload = ref
        elif isinstance(ref, str) and ref.startswith("attach://"):
            upload = uploads[ref[len("attach://"):]]
        if upload is not None:
            stored = self._store_file(kind, upload.data, upload.filename or None,
                                      _real_mime(upload.content_type, upload.filename), overrides)
            self.uploads[method] += 1
            self.uploaded_files.append({
                "method": method, "field": field_name, "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id, "size": len(upload.data),
                "sha256": hashlib.sha256(upload.data).hexdigest(), "file_name": upload.filename,
            })
            return stored
        if isinstance(ref, str) and ref in self._files:
            stored = self._files[ref]
            if (stored.kind == "photo") != (kind == "photo"):
                raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
            return stored
        if isinstance(ref, str) and re.match(r"https?://", ref):
            # No internet here: accept the URL as an empty remote file.
            return self._store_file(kind, b"", Path(urlsplit(ref).path).name or None, None, overrides, url=ref)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _media_fields(self, kind: str, stored: _StoredFile, params: dict[str, Any]) -> dict[str, Any]:
        """The Message fields for a media message (the media object + caption)."""
        media = copy.deepcopy(stored.media if stored.kind == kind else self._media_object(stored, kind))
        if kind == "photo":
            value: Any = [media]
        else:
            for key in ("duration", "width", "height", "performer", "title", "length"):
                if key in params and (key in media or key in ("performer", "title")):
                    media[key] = params[key]
            value = media
        fields: dict[str, Any] = {kind: value}
        if params.get("caption"):
            caption, entities = self._text_and_entities(
                params["caption"], params.get("parse_mode"), params.get("caption_entities"),
                CAPTION_LIMIT, "caption")
            if caption:
                fields["caption"] = caption
            if entities:
                fields["caption_entities"] = entities
        return fields

    def _edit_target(self, params: dict[str, Any]) -> _Msg | None:
        """The bot message an edit refers to; ``None`` for inline messages."""
        if "inline_message_id" in params:
            return None
        if "chat_id" not in params or "message_id" not in params:
            raise bad_request("message identifier is not specified (give chat_id and message_id, or inline_message_id)")
        c = self._resolve_chat(params["chat_id"])
        msg = c.messages.get(params["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to edit not found")
        if not msg.by_bot:
            raise bad_request("message can't be edited")
        return msg

    def _apply_edit(self, method: str, msg: _Msg, changes: dict[str, Any], markup: dict[str, Any] | None,
                    drop: tuple[str, ...] = (), flood: bool = True) -> dict[str, Any]:
        """Apply an edit unless it changes nothing; keep history; return the Message."""
        new = copy.deepcopy(msg.data)
        for key in drop:
            new.pop(key, None)
        new.update(changes)
        if markup and "inline_keyboard" in markup:
            new["reply_markup"] = markup
        else:
            new.pop("reply_markup", None)  # an edit without reply_markup removes the keyboard
        new.pop("edit_date", None)
        old = {k: v for k, v in msg.data.items() if k != "edit_date"}
        if new == old:
            raise ApiError(400, NOT_MODIFIED)
        if flood:
            self._take_flood(method, self._chats[msg.chat_id], {})
        msg.history.append({
            "date": msg.data.get("edit_date", msg.data["date"]), "kind": msg.kind,
            "file_id": msg.file_id,
            **{k: copy.deepcopy(msg.data.get(k)) for k in ("text", "entities", "caption", "reply_markup")},
        })
        new["edit_date"] = int(time.time())
        msg.data = new
        self._emit({"type": "edit", "chat_id": msg.chat_id, "message": self._view(msg)})
        return copy.deepcopy(new)

    # ---- API methods -----------------------------------------------------------------
    # Each takes (validated params, uploads) with the lock held, returns the result or
    # raises ApiError.

    def _api_get_me(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        return self.spec.fill_required("User", dict(self.bot_user))

    def _api_get_updates(self, p: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        self._poll_generation += 1
        generation = self._poll_generation
        self._changed()  # an older poll still waiting ends with 409, as on Telegram
        if "allowed_updates" in p:
            self._allowed_updates = list(p["allowed_updates"])
        offset = p.get("offset")
        if offset is not None and offset > 0:  # confirms everything before it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        limit = min(max(p.get("limit", 100), 1), 100)
        deadline = time.monotonic() + max(0, p.get("timeout", 0))
        while True:
            if generation != self._poll_generation:
                client_alive = getattr(self._local, "client_alive", None)
                if client_alive is not None and not client_alive():
                    raise _ClientGone  # PTB cancelled this poll and started another: no conflict
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
            allowed = set(self._allowed_updates)
            wanted = [u for u in self._updates if self._update_allowed(u, allowed)]
            if len(wanted) != len(self._updates):  # Telegram drops what the bot did not ask for
                self._updates = wanted
            remaining = deadline - time.monotonic()
            if wanted or remaining <= 0 or self._closing:
                return copy.deepcopy(wanted[:limit])
            self._cond.wait(remaining)

    @staticmethod
    def _update_allowed(update: dict[str, Any], allowed: set[str]) -> bool:
        kind = next(k for k in update if k != "update_id")
        return kind in allowed if allowed else kind not in DEFAULT_EXCLUDED_UPDATES

    def _api_delete_webhook(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _api_get_webhook_info(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    @staticmethod
    def _commands_key(p: dict[str, Any]) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), p.get("language_code", "")

    def _api_set_my_commands(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        commands = p["commands"]
        if len(commands) > 100:
            raise bad_request("too many commands (at most 100)")
        for cmd in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", cmd["command"]):
                raise bad_request(f"BOT_COMMAND_INVALID: {cmd['command']!r} (1-32 of a-z, 0-9, _)")
            if not 1 <= len(cmd["description"]) <= 256:
                raise bad_request(f"command description must be 1-256 characters: {cmd['command']!r}")
        self._commands[self._commands_key(p)] = copy.deepcopy(commands)
        return True

    def _api_get_my_commands(self, p: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        return copy.deepcopy(self._commands.get(self._commands_key(p), []))

    def _api_delete_my_commands(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    def _api_get_file(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        stored = self._files.get(p["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > GET_FILE_LIMIT:
            raise bad_request("file is too big")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data), "file_path": stored.file_path}

    def _api_send_message(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        c = self._resolve_chat(p["chat_id"])
        text, entities = self._text_and_entities(p["text"], p.get("parse_mode"), p.get("entities"), TEXT_LIMIT, "text")
        markup = p.get("reply_markup")
        self._check_markup(markup)
        reply_to = self._reply_target(c, p)
        self._take_flood("sendMessage", c, p)
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        msg = self._add_message(c, self.bot_user, by_bot=True, kind="text", fields=fields,
                                reply_to=reply_to, markup=markup)
        return copy.deepcopy(msg.data)

    def _api_send_media(self, method: str, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        kind = MEDIA_METHODS[method]
        c = self._resolve_chat(p["chat_id"])
        markup = p.get("reply_markup")
        self._check_markup(markup)
        reply_to = self._reply_target(c, p)
        if p.get("caption"):  # check the caption before storing anything
            self._text_and_entities(p["caption"], p.get("parse_mode"), p.get("caption_entities"), CAPTION_LIMIT, "caption")
        self._take_flood(method, c, p)
        overrides = {k: p[k] for k in ("duration", "width", "height") if k in p}
        stored = self._resolve_file(method, kind, p[kind], files, kind, overrides)
        fields = self._media_fields(kind, stored, p)
        msg = self._add_message(c, self.bot_user, by_bot=True, kind=kind, fields=fields,
                                reply_to=reply_to, markup=markup, file_id=stored.file_id)
        return copy.deepcopy(msg.data)

    def _api_send_media_group(self, p: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        c = self._resolve_chat(p["chat_id"])
        media = p["media"]
        if not 2 <= len(media) <= 10:
            raise bad_request("media group must contain 2-10 items")
        kinds = {item["type"] for item in media}
        if len(kinds) > 1 and kinds & {"audio", "document"}:
            raise bad_request("audio and documents can be grouped only with media of the same type")
        for item in media:  # check every reference before storing anything
            ref = item["media"]
            if isinstance(ref, str) and not ref.startswith("attach://") and ref not in self._files \
                    and not re.match(r"https?://", ref):
                raise bad_request("wrong file identifier/HTTP URL specified")
        reply_to = self._reply_target(c, p)
        self._take_flood("sendMediaGroup", c, p)
        group_id = f"{self._tag}{next(self._query_ids):010d}"
        out = []
        for item in media:
            kind = item["type"]
            stored = self._resolve_file("sendMediaGroup", kind, item["media"], files, "media")
            fields = self._media_fields(kind, stored, item)
            fields["media_group_id"] = group_id
            msg = self._add_message(c, self.bot_user, by_bot=True, kind=kind, fields=fields,
                                    reply_to=reply_to, file_id=stored.file_id)
            out.append(copy.deepcopy(msg.data))
        return out

    def _api_send_chat_action(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        c = self._resolve_chat(p["chat_id"])
        if p["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append((c.id, p["action"]))
        self._emit({"type": "chat_action", "chat_id": c.id, "action": p["action"]})
        return True

    def _api_edit_message_text(self, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        if "text" not in p:
            raise bad_request("message text is empty")
        text, entities = self._text_and_entities(p["text"], p.get("parse_mode"), p.get("entities"), TEXT_LIMIT, "text")
        markup = p.get("reply_markup")
        self._check_markup(markup)
        msg = self._edit_target(p)
        if msg is None:
            return True
        if msg.kind != "text":
            raise bad_request("there is no text in the message to edit")
        changes: dict[str, Any] = {"text": text}
        if entities:
            changes["entities"] = entities
        return self._apply_edit("editMessageText", msg, changes, markup, drop=("entities",))

    def _api_edit_message_caption(self, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        markup = p.get("reply_markup")
        self._check_markup(markup)
        caption, entities = self._text_and_entities(
            p.get("caption", ""), p.get("parse_mode"), p.get("caption_entities"), CAPTION_LIMIT, "caption")
        msg = self._edit_target(p)
        if msg is None:
            return True
        if msg.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        changes: dict[str, Any] = {}
        if caption:
            changes["caption"] = caption
        if entities:
            changes["caption_entities"] = entities
        return self._apply_edit("editMessageCaption", msg, changes, markup, drop=("caption", "caption_entities"))

    def _api_edit_message_reply_markup(self, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        markup = p.get("reply_markup")
        self._check_markup(markup)
        msg = self._edit_target(p)
        if msg is None:
            return True
        return self._apply_edit("editMessageReplyMarkup", msg, {}, markup)

    def _api_edit_message_media(self, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        markup = p.get("reply_markup")
        self._check_markup(markup)
        media = p["media"]
        msg = self._edit_target(p)
        if msg is None:
            return True
        if msg.kind == "text":
            raise bad_request("there is no media in the message to edit")
        kind = media["type"]
        if kind not in _KIND_FOLDER:
            raise bad_request(f"unsupported media type {kind!r} for editMessageMedia")
        media_ref = media["media"]
        # Count the flood budget before storing an upload, so a 429 leaves no file behind.
        self._take_flood("editMessageMedia", self._chats[msg.chat_id], p)
        if msg.file_id is not None and media_ref == msg.file_id and kind == msg.kind:
            stored = self._files[msg.file_id]
        else:
            stored = self._resolve_file("editMessageMedia", kind, media_ref, files, "media")
        changes = self._media_fields(kind, stored, media)
        new = self._apply_edit("editMessageMedia", msg, changes, markup,
                               drop=(msg.kind, "caption", "caption_entities"), flood=False)
        msg.kind, msg.file_id = kind, stored.file_id
        return new

    def _api_answer_callback_query(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        query = self._callback_queries.pop(p["callback_query_id"], None)
        if query is None:
            raise ApiError(400, QUERY_TOO_OLD)
        if len(p.get("text", "")) > CALLBACK_ANSWER_LIMIT:
            self._callback_queries[p["callback_query_id"]] = query  # not consumed
            raise bad_request("MESSAGE_TOO_LONG (callback answer text is limited to 200 characters)")
        answer = {"callback_query_id": p["callback_query_id"], "text": p.get("text"),
                  "show_alert": p.get("show_alert", False), "url": p.get("url"),
                  "cache_time": p.get("cache_time"), "data": query.get("data"),
                  "user_id": query["from"]["id"]}
        self.callback_answers.append(answer)
        chat = (query.get("message") or {}).get("chat", {}).get("id")
        self._emit({"type": "callback_answer", "chat_id": chat, **answer})
        return True

    def _api_answer_inline_query(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        query = self._inline_queries.pop(p["inline_query_id"], None)
        if query is None:
            raise ApiError(400, QUERY_TOO_OLD)
        results = p["results"]
        ids = [r["id"] for r in results]
        problem = None
        if len(results) > 50:
            problem = "too many inline query results (at most 50)"
        elif len(set(ids)) != len(ids):
            problem = "RESULT_ID_DUPLICATE"
        elif any(not 1 <= len(i.encode()) <= 64 for i in ids):
            problem = "RESULT_ID_INVALID (1-64 bytes)"
        if problem:
            self._inline_queries[p["inline_query_id"]] = query
            raise bad_request(problem)
        for r in results:
            self._check_markup(r.get("reply_markup"))
        self.inline_answers.append({**copy.deepcopy(p), "query": query["query"], "user_id": query["from"]["id"]})
        return True

    def _delete(self, c: _Chat, message_id: int) -> None:
        msg = c.messages.get(message_id)
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        msg.deleted = True
        self._emit({"type": "delete", "chat_id": c.id, "message_id": message_id})
        self._changed()

    def _api_delete_message(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        self._delete(self._resolve_chat(p["chat_id"]), p["message_id"])
        return True

    def _api_delete_messages(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        c = self._resolve_chat(p["chat_id"])
        ids = p["message_ids"]
        if not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must hold 1-100 identifiers")
        for message_id in ids:  # Telegram skips the ones it can't find
            if message_id in c.messages and not c.messages[message_id].deleted:
                self._delete(c, message_id)
        return True

    def _api_get_chat(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        c = self._resolve_chat(p["chat_id"])
        info = dict(c.data)
        info.update(accent_color_id=0, max_reaction_count=11)
        return self.spec.fill_required("ChatFullInfo", info)

    def _api_get_chat_member(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        c = self._resolve_chat(p["chat_id"])
        if p["user_id"] not in self._users and p["user_id"] != self.bot_user["id"]:
            raise bad_request("user not found")
        return self._member_object(c, p["user_id"])

    def _api_get_chat_administrators(self, p: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        c = self._resolve_chat(p["chat_id"])
        if c.is_private:
            raise bad_request("there are no administrators in the private chat")
        ids = ([c.owner] if c.owner is not None else []) + [a for a in c.admins if a != c.owner]
        if c.bot_status == "administrator":
            ids.append(self.bot_user["id"])
        return [self._member_object(c, i) for i in ids]

    def _api_leave_chat(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        c = self._resolve_chat(p["chat_id"])
        if c.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        old = self._member_object(c, self.bot_user["id"])
        c.bot_status = "left"
        self._queue_update("my_chat_member", {
            "chat": dict(c.data), "from": dict(self.bot_user), "date": int(time.time()),
            "old_chat_member": old, "new_chat_member": self._member_object(c, self.bot_user["id"]),
        })
        self._emit({"type": "member", "chat_id": c.id, "status": "left"})
        return True


def _real_mime(content_type: str, filename: str) -> str | None:
    """The part's content type unless it is the generic default; then guess from the name."""
    if content_type and content_type != "application/octet-stream":
        return content_type.split(";")[0].strip()
    return mimetypes.guess_type(filename or "")[0]


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a long poll must not keep the process alive
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], emulator: TelegramEmulator):
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop idle keep-alive connections so their threads end now."""
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK
    # add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        _LOG.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a cancelled long poll)

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _handle(self) -> None:
        emu = self.server.emulator
        url = urlsplit(self.path)
        path = url.path
        body = self._read_body()
        if path.startswith("/file/bot"):
            token, _, file_path = path[len("/file/bot"):].partition("/")
            data = emu._file_download(unquote(token), unquote(file_path))
            if data is None:
                self._send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            else:
                self._send(200, data, "application/octet-stream")
            return
        if not path.startswith("/bot") or path.count("/") != 2:
            self._send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, _, method = path[len("/bot"):].partition("/")
        try:
            raw, uploads, form = self._parse_params(url.query, body)
        except (ValueError, UnicodeDecodeError) as exc:
            with emu._lock:
                emu.violations.append(f"{method}: unparseable request body ({exc})")
            self._send_json(400, {"ok": False, "error_code": 400, "description": f"Bad Request: can't parse request: {exc}"})
            return
        emu._local.client_alive = self._client_alive
        status, payload = emu._handle_api(unquote(token), method, raw, uploads, form)
        if status == 499:
            self.close_connection = True
            return
        self._send_json(status, payload)

    def _client_alive(self) -> bool:
        """Peek at the socket: EOF means the client closed the connection."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True  # open, just nothing to read
        except OSError:
            return False

    def _parse_params(self, query: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload], bool]:
        """(params, file parts, values-are-form-strings) from query string + body."""
        raw: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        uploads: dict[str, Upload] = {}
        form = True
        ctype = self.headers.get("Content-Type", "")
        mime = ctype.split(";")[0].strip().lower()
        if mime == "application/json":
            parsed = json.loads(body or b"{}")
            if not isinstance(parsed, dict):
                raise ValueError("JSON body must be an object")
            if raw:
                raise ValueError("mixing query-string and JSON parameters")
            return parsed, uploads, False
        if mime == "multipart/form-data":
            boundary = _header_params(ctype).get("boundary")
            if not boundary:
                raise ValueError("multipart body without boundary")
            fields, uploads = parse_multipart(body, boundary)
            raw.update(fields)
        elif body:
            raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return raw, uploads, form
