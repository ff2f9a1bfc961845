"""A minimal PDF text reader for the PDFs Chromium prints (Flate streams, Type0 fonts with a ToUnicode map), so
tests need no PDF library."""
from __future__ import annotations

import re
import zlib

# Text operators: select a font (Tf), show an array of strings (TJ) or one hex string (Tj).
_SHOW = re.compile(rb"/(\w+)\s+[-\d.]+\s+Tf|\[((?:[^\]\\]|\\.)*)\]\s*TJ|<([0-9A-Fa-f]*)>\s*Tj", re.S)


def _objects(data: bytes) -> dict[int, bytes]:
    return {int(n): body for n, body in re.findall(rb"(\d+) 0 obj\s*(.*?)endobj", data, re.S)}


def _stream(body: bytes) -> bytes:
    head, _, rest = body.partition(b"stream")
    raw = re.match(rb"\r?\n(.*?)\r?\n?endstream", rest, re.S)
    assert raw, "an object without a stream"
    return zlib.decompress(raw.group(1)) if b"/FlateDecode" in head else raw.group(1)


def _to_unicode(cmap: bytes) -> dict[int, str]:
    """Glyph code -> text, from a ToUnicode CMap's bfchar and bfrange entries."""
    out: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = int(dst, 16)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[code] = chr(first + i)
    return out


def page_texts(data: bytes) -> list[str]:
    """The text of each page, its runs joined as they come (Chromium places most glyphs one by one)."""
    objects = _objects(data)
    pages = []
    for body in objects.values():
        if not re.search(rb"/Type\s*/Page\b(?!s)", body) or b"/Contents" not in body:
            continue
        fonts_dict = re.search(rb"/Font\s*<<(.*?)>>", body, re.S)
        fonts = {}
        for name, ref in re.findall(rb"/(\w+)\s+(\d+) 0 R", fonts_dict.group(1) if fonts_dict else b""):
            unicode_ref = re.search(rb"/ToUnicode\s+(\d+) 0 R", objects[int(ref)])
            fonts[name] = _to_unicode(_stream(objects[int(unicode_ref.group(1))])) if unicode_ref else {}
        content = _stream(objects[int(re.search(rb"/Contents\s+(\d+) 0 R", body).group(1))])
        lines, font = [], {}
        for m in _SHOW.finditer(content):
            if m.group(1) is not None:
                font = fonts.get(m.group(1), {})
                continue
            hexes = re.findall(rb"<([0-9A-Fa-f]*)>", m.group(2)) if m.group(2) is not None else [m.group(3)]
            codes = [int(h[i:i + 4], 16) for h in hexes for i in range(0, len(h), 4)]
            lines.append("".join(font.get(c, "\ufffd") for c in codes))
        pages.append("".join(lines))
    return pages
