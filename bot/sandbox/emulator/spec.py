"""The Bot API spec (``api.json``) and the validator of request parameters against it.

The spec is the machine-readable one of PaulSonOfLars/telegram-bot-api-spec (MIT), vendored
in ``vendor/`` with its licence and provenance, so the emulator works on any checkout.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

from .multipart import Upload

VENDORED_SPEC = Path(__file__).resolve().parent / "vendor" / "api.json"


def default_spec_path() -> Path:
    """``$CHOREO_SHARED_DATA/telegram/api.json`` when that file exists, else the vendored copy.

    The override lets a newer spec be tried without vendoring it first.
    """
    base = os.environ.get("CHOREO_SHARED_DATA")
    if base:
        override = Path(base) / "telegram" / "api.json"
        if override.is_file():
            return override
    return VENDORED_SPEC


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
