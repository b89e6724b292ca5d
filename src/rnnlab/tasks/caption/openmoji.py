"""OpenMoji: emoji images captioned with their human-written names (CC BY-SA 4.0).

Read straight from the npm tarball ``openmoji/openmoji-17.0.0.tgz``: the records of
``package/data/openmoji.json`` and the drawings ``package/color/svg/<hexcode>.svg``,
rendered with cairosvg on white. Only base emoji are used (``skintone`` empty: 2,465 of
4,495 records); the skin-tone variants repeat a base drawing under a longer name. One
example::

    package/color/svg/1F600.svg  ->  (48, 48, 3) uint8 image
    annotation "grinning face"   ->  tokens ["grinning", "face"]

The split is a seeded permutation of the base emoji: 80 % train, 10 % dev, 10 % test.
Rendered arrays are cached in :func:`rnnlab.tasks.caption.data.cache_dir`, keyed by the tarball's
SHA-256 and the image size.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.tasks.caption.data import CaptionSet, cache_dir, render_svg
from rnnlab.training.data import data_root

TARBALL = "openmoji-17.0.0.tgz"
RECORDS = "package/data/openmoji.json"
SVG_DIR = "package/color/svg"
DEFAULT_SIZE = 48
FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class Emoji:
    hexcode: str
    annotation: str
    group: str


def find_tarball(given: str | Path = "") -> Path:
    """The tarball, given itself, its folder, or the data root holding ``openmoji/``."""
    path = Path(given) if str(given) else data_root() / "openmoji"
    if path.is_file():
        return path
    for cand in (path / TARBALL, path / "openmoji" / TARBALL):
        if cand.is_file():
            return cand
    found = sorted(path.glob("openmoji-*.tgz")) if path.is_dir() else []
    if found:
        return found[-1]
    raise FileNotFoundError(
        f"OpenMoji tarball {TARBALL} not found in {path} (nor in {path / 'openmoji'}); "
        "pass --data-dir pointing at the data root or the openmoji folder"
    )


def parse_records(data: bytes, where: str) -> list[Emoji]:
    """The base emoji (no skin-tone variants) of ``openmoji.json``'s bytes."""
    try:
        records = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{where}: {RECORDS} is not valid JSON: {exc}") from exc
    if not isinstance(records, list):
        raise ValueError(f"{where}: {RECORDS} is not a list of records")
    out = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise ValueError(f"{where}: {RECORDS} record {i} is not an object: {rec!r:.40}")
        try:
            if rec.get("skintone", ""):
                continue
            out.append(Emoji(str(rec["hexcode"]), str(rec["annotation"]), str(rec["group"])))
        except KeyError as exc:
            raise ValueError(f"{where}: {RECORDS} record {i} lacks {exc}") from exc
    if not out:
        raise ValueError(f"{where}: {RECORDS} holds no base emoji")
    return out


def read_tarball(tar_path: Path, limit: int = 0) -> tuple[list[Emoji], dict[str, bytes]]:
    """The base emoji (the first ``limit`` if > 0) and their SVG drawings by hexcode, in
    one pass over the gzip stream (seeking back in it would decompress it again)."""
    emoji: list[Emoji] | None = None
    wanted: set[str] = set()
    svgs: dict[str, bytes] = {}
    prefix = SVG_DIR + "/"
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            for member in tar:
                if member.name == RECORDS:
                    fh = tar.extractfile(member)
                    assert fh is not None
                    emoji = parse_records(fh.read(), str(tar_path))
                    emoji = emoji[:limit] if limit > 0 else emoji
                    wanted = {e.hexcode for e in emoji}
                    svgs = {k: v for k, v in svgs.items() if k in wanted}
                elif member.name.startswith(prefix) and member.name.endswith(".svg"):
                    code = member.name[len(prefix) : -len(".svg")]
                    if emoji is None or code in wanted:
                        fh = tar.extractfile(member)
                        assert fh is not None
                        svgs[code] = fh.read()
                if emoji is not None and len(svgs) == len(wanted):
                    break
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"{tar_path}: not a readable .tgz archive: {exc}") from exc
    if emoji is None:
        raise ValueError(f"{tar_path}: has no {RECORDS}; is it the OpenMoji npm package?")
    missing = [e.hexcode for e in emoji if e.hexcode not in svgs]
    if missing:
        raise ValueError(f"{tar_path}: no drawing {SVG_DIR}/{missing[0]}.svg for a record")
    return emoji, svgs


_MARKER = re.compile(rb'\smarker-(?:start|mid|end)="url\(#[^)"]*\)"')


def _render(svg: bytes, size: int, where: str) -> np.ndarray:
    """Render one drawing; a few refer to a marker they never define (cairosvg fails on
    those), so on failure the marker references are dropped and it is drawn again."""
    try:
        return render_svg(svg, size, where)
    except ValueError:
        return render_svg(_MARKER.sub(b"", svg), size, where)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(
    given: str | Path = "", size: int = DEFAULT_SIZE, use_cache: bool = True, limit: int = 0
) -> CaptionSet:
    """Every base emoji (the first ``limit`` if > 0, then uncached), rendered at ``size``
    pixels; names are the hexcodes."""
    tar_path = find_tarball(given)
    use_cache = use_cache and limit <= 0
    cache = cache_dir() / f"openmoji-{_sha256(tar_path)[:16]}-{size}.npz"
    if use_cache and cache.is_file():
        try:
            with np.load(cache) as z:
                images = z["images"]
                names = [str(x) for x in z["hexcodes"]]
                captions = [[str(x)] for x in z["annotations"]]
            return CaptionSet(images, captions, names)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    emoji, svgs = read_tarball(tar_path, limit)
    images = np.empty((len(emoji), size, size, 3), dtype=np.uint8)  # (N, S, S, 3)
    for i, e in enumerate(emoji):
        images[i] = _render(svgs[e.hexcode], size, f"{tar_path}:{SVG_DIR}/{e.hexcode}.svg")
    data = CaptionSet(images, [[e.annotation] for e in emoji], [e.hexcode for e in emoji])
    if use_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez_compressed(
            tmp,
            images=images,
            hexcodes=np.array(data.names),
            annotations=np.array([c[0] for c in data.captions]),
        )
        tmp.replace(cache)
    return data


def split(
    n: int, seed: int, fractions: tuple[float, float, float] = FRACTIONS
) -> dict[str, np.ndarray]:
    """Seeded train/dev/test index arrays over ``n`` items."""
    perm = np.random.default_rng(seed).permutation(n)
    n_dev, n_test = round(n * fractions[1]), round(n * fractions[2])
    n_train = n - n_dev - n_test
    return {
        "train": np.sort(perm[:n_train]),
        "dev": np.sort(perm[n_train : n_train + n_dev]),
        "test": np.sort(perm[n_train + n_dev :]),
    }
