"""Image captioning data: what every loader returns, and reading one image file.

A loader (``shapes``, ``openmoji``, ``coco``) returns a :class:`CaptionSet`: small RGB
images as one ``uint8`` array and, per image, one or more reference captions. The model
sees captions as lower-cased tokens (:func:`caption_tokens`); BLEU and exact match
compare those tokens, so "Flag: Germany" and "flag : germany" are the same caption.

Bounded inputs: an image file may have at most ``MAX_IMAGE_BYTES`` (50 MB) and, decoded,
``MAX_IMAGE_PIXELS`` (40 megapixels); a bigger one is a ``ValueError`` naming the file and
the limit, checked before the pixels are decoded.

Rendered images are cached under :func:`cache_dir` (``$RNNLAB_CACHE``, else
``$XDG_CACHE_HOME/rnnlab``, else ``~/.cache/rnnlab``), never beside the data or code.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from rnnlab.nn.vocab import tokenize

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".svg")
MAX_IMAGE_BYTES = 50_000_000  # the largest image file read
MAX_IMAGE_PIXELS = 40_000_000  # the most pixels an image may decode to


@dataclass(frozen=True)
class CaptionSet:
    """``images`` ``(N, S, S, 3)`` uint8 RGB; ``captions[i]`` the references of image i."""

    images: np.ndarray
    captions: list[list[str]]
    names: list[str]  # where each image came from (file, hexcode, scene index)

    def __post_init__(self) -> None:
        n = len(self.images)
        if len(self.captions) != n or len(self.names) != n:
            raise ValueError(
                f"a caption set needs as many captions and names as images: "
                f"{n} images, {len(self.captions)} caption lists, {len(self.names)} names"
            )
        if self.images.ndim != 4 or self.images.shape[3] != 3 or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be a (N, S, S, 3) uint8 array, got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: Sequence[int] | np.ndarray) -> CaptionSet:
        idx = np.asarray(index, dtype=np.int64)
        return CaptionSet(
            self.images[idx],  # (n, S, S, 3)
            [self.captions[i] for i in idx.tolist()],
            [self.names[i] for i in idx.tolist()],
        )


def caption_tokens(text: str) -> list[str]:
    """The tokens a caption is learned and scored as: lower-cased, ``rnnlab.nn.vocab`` rule."""
    return tokenize(text.lower())


def detokenize(tokens: Sequence[str]) -> str:
    """Tokens back to a readable line: no space before , . : ; ! ?"""
    out = ""
    for tok in tokens:
        if out and tok not in {",", ".", ":", ";", "!", "?"}:
            out += " "
        out += tok
    return out


def cache_dir() -> Path:
    """Where rendered image arrays are kept between runs (created on demand)."""
    env = os.environ.get("RNNLAB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rnnlab"


def to_square_rgb(img: object, size: int) -> np.ndarray:
    """A PIL image → ``(size, size, 3)`` uint8: alpha laid on white, centre square crop."""
    from PIL import Image

    assert isinstance(img, Image.Image)
    img = img.convert("RGBA")
    white = Image.new("RGBA", img.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, img).convert("RGB")
    w, h = rgb.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    rgb = rgb.crop((left, top, left + side, top + side))
    rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8).copy()  # (S, S, 3)


def render_svg(data: bytes, size: int, where: str) -> np.ndarray:
    """SVG bytes → ``(size, size, 3)`` uint8 on white; ``where`` names the source in errors."""
    import cairosvg
    from PIL import Image

    try:
        png = cairosvg.svg2png(bytestring=data, output_width=size, output_height=size)
    except Exception as exc:  # cairosvg raises many types for malformed XML
        raise ValueError(f"{where}: not a readable SVG image: {exc}") from exc
    assert isinstance(png, bytes)
    return to_square_rgb(Image.open(io.BytesIO(png)), size)


def load_image(path: str | Path, size: int) -> np.ndarray:
    """Read an image file (PNG, JPEG, ..., or SVG) as ``(size, size, 3)`` uint8 RGB."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    nbytes = path.stat().st_size
    if nbytes > MAX_IMAGE_BYTES:
        raise ValueError(
            f"{path}: {nbytes:,} bytes; images of at most {MAX_IMAGE_BYTES:,} are read "
            "(caption.data.MAX_IMAGE_BYTES)"
        )
    if path.suffix.lower() == ".svg":
        return render_svg(path.read_bytes(), size, str(path))
    return decode_image(path, size, str(path))


def decode_image(
    source: str | Path | IO[bytes],
    size: int,
    where: str,
    formats: Sequence[str] = (),
    max_side: int = 0,
) -> np.ndarray:
    """A raster image (a file, or a file object) as ``(size, size, 3)`` uint8 RGB, by
    :func:`to_square_rgb`; refused with a ``ValueError`` naming ``where`` when it is not an
    image PIL reads, not one of ``formats`` (PIL's names, e.g. ``"PNG"``; () = any), has a
    side over ``max_side`` (0 = no limit) or more than ``MAX_IMAGE_PIXELS``, all checked
    from the header before the pixels are decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as img:  # reads the header only
            w, h = img.size
            if formats and img.format not in formats:
                raise ValueError(f"{where}: a {img.format} image; expected {' or '.join(formats)}")
            if max_side and max(w, h) > max_side:
                raise ValueError(
                    f"{where}: {w} x {h} pixels; images of at most {max_side} x {max_side} are read"
                )
            if w * h > MAX_IMAGE_PIXELS:
                raise ValueError(
                    f"{where}: {w} x {h} pixels; images of at most {MAX_IMAGE_PIXELS:,} pixels "
                    "are read (caption.data.MAX_IMAGE_PIXELS)"
                )
            img.load()
            return to_square_rgb(img, size)
    except Image.DecompressionBombError as exc:  # PIL's own, larger limit, at the header
        most = (
            f"{max_side} x {max_side} pixels, the most an image may have here"
            if max_side
            else f"{MAX_IMAGE_PIXELS:,} pixels, the most an image may have "
            "(caption.data.MAX_IMAGE_PIXELS)"
        )
        raise ValueError(f"{where}: more than {most}: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{where}: not an image file that PIL can read ({exc})") from exc
