"""Decoding report bytes whose encoding nobody declared, without ever letting mojibake through."""
from __future__ import annotations

import codecs
import unicodedata

# Tried in order, each strictly: UTF-8 is self-validating, so a GBK file almost never passes it.
_FALLBACKS = ("utf-8", "gb18030")


def _looks_like_text(text: str) -> bool:
    # gb18030 decodes many byte soups; binary data and mis-decodings show up as control,
    # private-use or replacement characters, which no report contains.
    for ch in set(text):
        if ch in "\t\r\n":
            continue
        if ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn"):
            return False
    return True


def decode_report(data: bytes) -> tuple[str, str] | None:
    """(text, encoding name) or None when no candidate decodes to plausible text."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8-sig", data)]
    else:
        candidates = [(name, data) for name in _FALLBACKS]
    for name, raw in candidates:
        try:
            text = raw.decode("utf-8-sig" if name == "utf-8-sig" else name, errors="strict")
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text, name
    return None
