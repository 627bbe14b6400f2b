"""Content checks shared by the image upload and processing handlers (pure; no AWS).

An image is accepted only when its *bytes* say so, never its name or a declared header:

1. size: non-empty and at most the limit;
2. signature: the magic bytes are JPEG, PNG, GIF or WebP, and a declared content type must agree;
3. structure: the container is walked to its end marker (JPEG ``EOI``, PNG ``IEND``, GIF trailer, the RIFF
   length of WebP). Missing end -> *truncated*; bytes after the end -> *polyglot* (a second file riding on the
   image, e.g. a ZIP/JAR appended to a GIF);
4. markup: SVG (scriptable XML) and HTML/script/PHP fragments anywhere in the bytes are refused;
5. dimensions: read by Pillow from the header with ``Image.MAX_IMAGE_PIXELS`` set and its
   ``DecompressionBombWarning`` raised as an error, so a decompression bomb is refused before any pixel is
   decoded; ``verify()`` checks the format's own integrity (PNG CRCs) without decoding.

``decode`` (processing only) then loads the pixels, which is where a truncated scan surfaces.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from PIL import Image, UnidentifiedImageError

ALLOWED_TYPES: Final = ("image/jpeg", "image/png", "image/gif", "image/webp")
PIL_FORMATS: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
MAX_IMAGE_BYTES: Final = 10 * 1024 * 1024
MAX_PIXELS: Final = 40_000_000
"""40 megapixels (e.g. 8000 x 5000): larger images are refused as possible decompression bombs. A 40 MP RGBA
frame decodes to 160 MB, which sizes the processor's memory (docs/pipeline.md)."""
MAX_FRAMES: Final = 200
"""Animated GIF/WebP: frames x pixels is bounded too (``MAX_PIXELS * 2``)."""
MARKUP: Final = (b"<svg", b"<script", b"<html", b"<?php", b"<!doctype", b"<iframe", b"<?xml", b"javascript:")


class ImageRejected(Exception):
    """The bytes are not an acceptable image; ``reason`` is stable text for clients, logs and the DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int
    frames: int
    size_bytes: int


def sniff(body: bytes) -> str | None:
    """The content type the magic bytes announce, or ``None``."""
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if body[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(body) >= 12 and body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    return None


def _looks_like_svg(body: bytes) -> bool:
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head


# ------------------------------------------------------------------------------------------ structure walkers


def _jpeg_end(b: bytes) -> int:
    """Offset just past the JPEG ``EOI`` marker, walking segments and entropy-coded scans."""
    i, n = 2, len(b)
    while i < n:
        if b[i] != 0xFF:
            raise ImageRejected("malformed: JPEG segment does not start with a marker")
        while i < n and b[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            break
        marker = b[i]
        i += 1
        if marker == 0xD9:
            return i
        if marker in (0x01, *range(0xD0, 0xD8)):  # TEM, RSTn: no length
            continue
        if i + 2 > n:
            break
        (length,) = struct.unpack(">H", b[i : i + 2])
        if length < 2:
            raise ImageRejected("malformed: JPEG segment length")
        i += length
        if marker == 0xDA:  # start of scan: entropy-coded data until the next non-RST marker
            while i + 1 < n:
                if b[i] == 0xFF and b[i + 1] != 0x00 and not 0xD0 <= b[i + 1] <= 0xD7:
                    break
                i += 1
            else:
                i = n
    raise ImageRejected("truncated: JPEG has no end-of-image marker")


def _png_end(b: bytes) -> int:
    i, n = 8, len(b)
    while i + 12 <= n:
        (length,) = struct.unpack(">I", b[i : i + 4])
        ctype = b[i + 4 : i + 8]
        i += 12 + length
        if ctype == b"IEND":
            if i > n:
                break
            return i
    raise ImageRejected("truncated: PNG has no IEND chunk")


def _gif_end(b: bytes) -> int:
    n = len(b)
    if n < 13:
        raise ImageRejected("truncated: GIF header")
    flags = b[10]
    i = 13 + (3 * (2 ** ((flags & 7) + 1)) if flags & 0x80 else 0)

    def skip_sub_blocks(j: int) -> int:
        while j < n:
            size = b[j]
            j += 1 + size
            if size == 0:
                return j
        raise ImageRejected("truncated: GIF data sub-blocks")

    while i < n:
        block = b[i]
        if block == 0x3B:
            return i + 1
        if block == 0x21:  # extension: label + sub-blocks
            i = skip_sub_blocks(i + 2)
        elif block == 0x2C:  # image descriptor (+ local colour table) + LZW min code size + sub-blocks
            if i + 10 > n:
                break
            lflags = b[i + 9]
            i += 10 + (3 * (2 ** ((lflags & 7) + 1)) if lflags & 0x80 else 0)
            i = skip_sub_blocks(i + 1)
        else:
            raise ImageRejected(f"malformed: unknown GIF block 0x{block:02x}")
    raise ImageRejected("truncated: GIF has no trailer")


def _webp_end(b: bytes) -> int:
    (riff_size,) = struct.unpack("<I", b[4:8])
    end = 8 + riff_size
    if end > len(b):
        raise ImageRejected("truncated: WebP is shorter than its RIFF size")
    return end


_END = {"image/jpeg": _jpeg_end, "image/png": _png_end, "image/gif": _gif_end, "image/webp": _webp_end}


@contextmanager
def bomb_guard(max_pixels: int = MAX_PIXELS) -> Iterator[None]:
    """Pillow's bomb check at ``max_pixels``, with its warning raised as an error."""
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def inspect_image(
    body: bytes,
    declared: str | None = None,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_PIXELS,
    allowed: tuple[str, ...] | frozenset[str] = ALLOWED_TYPES,
) -> ImageInfo:
    """All checks of the module docstring; raises :class:`ImageRejected` with the first problem."""
    if not body:
        raise ImageRejected("invalid: image is empty")
    if len(body) > max_bytes:
        raise ImageRejected(f"too large: image is {len(body)} bytes; limit {max_bytes}")
    if _looks_like_svg(body) or (declared or "").split(";")[0].strip().lower() == "image/svg+xml":
        raise ImageRejected("refused: SVG is scriptable XML and is not accepted")
    kind = sniff(body)
    if kind is None:
        raise ImageRejected("wrong type: bytes are not JPEG, PNG, GIF or WebP")
    if kind not in allowed:
        raise ImageRejected(f"wrong type: {kind} is not allowed; allowed: {sorted(allowed)}")
    if declared is not None and declared.split(";")[0].strip().lower() != kind:
        raise ImageRejected(f"content mismatch: declared {declared!r} but the bytes are {kind}")
    end = _END[kind](body)
    if end < len(body):
        raise ImageRejected(f"polyglot: {len(body) - end} bytes follow the end of the {kind} image")
    lowered = body.lower()
    found = [m.decode() for m in MARKUP if m in lowered]
    if found:
        raise ImageRejected(f"polyglot: markup {found} inside the image bytes")
    try:
        with bomb_guard(max_pixels), Image.open(io.BytesIO(body)) as img:
            if img.format != PIL_FORMATS[kind]:
                raise ImageRejected(f"content mismatch: Pillow reads {img.format}, signature says {kind}")
            width, height = img.size
            frames = int(getattr(img, "n_frames", 1))
            img.verify()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(f"decompression bomb: more than {max_pixels} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise ImageRejected(f"malformed: {kind} does not parse ({type(exc).__name__})") from None
    if width < 1 or height < 1:
        raise ImageRejected("malformed: zero dimension")
    if frames > MAX_FRAMES or frames * width * height > 2 * max_pixels:
        raise ImageRejected(f"decompression bomb: {frames} frames of {width}x{height}")
    return ImageInfo(kind, width, height, frames, len(body))


def decode(body: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open and fully decode the first frame (processing). Truncated scans and bombs raise ImageRejected."""
    try:
        with bomb_guard(max_pixels):
            img = Image.open(io.BytesIO(body))
            img.load()
            return img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(f"decompression bomb: more than {max_pixels} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise ImageRejected(f"truncated or corrupt: pixels do not decode ({type(exc).__name__}: {exc})") from None
