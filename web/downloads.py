"""One way to name a download: RFC 6266 ``Content-Disposition`` with an RFC 5987
``filename*`` for any name (``取扱説明書.pdf``), and a plain ASCII fallback in which
quotes, backslashes and control characters cannot end the parameter or the header."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 !#$&+,.\-^_`{}~()\[\]=]")


def ascii_fallback(filename: str) -> str:
    """A name for old clients: accents dropped, anything else unusual becomes ``_``."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""

    def plain(text: str) -> str:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return _UNSAFE_ASCII.sub("_", text).strip(" .")

    stem, ext = plain(stem) or "download", plain(ext)
    return f"{stem[:140]}.{ext[:10]}" if ext else stem[:150]


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """The header value that names the file ``filename``, safe for any text."""
    cleaned = "".join(c for c in filename if unicodedata.category(c)[0] != "C") or "download"
    fallback = ascii_fallback(cleaned)
    header = f'{disposition}; filename="{fallback}"'
    if fallback != cleaned:
        header += f"; filename*=UTF-8''{quote(cleaned, safe='')}"
    return header
