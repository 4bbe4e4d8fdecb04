"""Request bodies: multipart/form-data parts, as PTB sends files, and header parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart/form-data request."""

    name: str
    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # keeps logs free of file bytes
        return f"<Upload {self.name} {self.filename!r} {len(self.data)} B>"


_HEADER_PARAM = re.compile(r';\s*([\w*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def header_params(value: str) -> dict[str, str]:
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
        disp = header_params(headers.get("content-disposition", ""))
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
