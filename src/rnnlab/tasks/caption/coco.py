"""COCO-style captions: a captions file and a folder of images.

Two layouts load:

- ``captions.jsonl``, one record a line (``coco-captions-mini``)::

      {"file": "images/train2017/000000000790.jpg", "captions": ["a family is ...", ...]}

  ``file`` is relative to the folder holding ``captions.jsonl``;
- the standard COCO captions JSON (``captions_train2017.json`` and the like)::

      {"images": [{"id": 790, "file_name": "000000000790.jpg"}, ...],
       "annotations": [{"image_id": 790, "caption": "a family is ..."}, ...]}

  with each ``file_name`` looked up beside the JSON file, under ``images/``, and under a
  folder named like the JSON's suffix (``train2017/``, ``images/train2017/``), there or
  one level up (the usual ``annotations/`` + ``val2017/`` layout).

Every image keeps all its captions as references (BLEU uses them all; training samples
one per step). Photos are centre-cropped square and shrunk to ``size`` pixels. A missing
image, a file that is not an image or a malformed record is an error naming the captions
file (and line) and the image. ``coco-captions-mini`` is a smoke test of this format: 86
photos are far too few to learn photo captioning from scratch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.tasks.caption.data import CaptionSet, load_image
from rnnlab.training.data import data_root

FOLDER = "coco-captions-mini"
DEFAULT_SIZE = 64


def find_captions(given: str | Path = "") -> Path:
    """The captions file: ``given`` itself, inside ``given``, or in ``given/coco-captions-mini``."""
    path = Path(given) if str(given) else data_root() / FOLDER
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"captions folder not found: {path}")
    for folder in (path, path / FOLDER, path / "annotations"):
        if (folder / "captions.jsonl").is_file():
            return folder / "captions.jsonl"
        for cand in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if _looks_like_coco(cand):
                return cand
    raise FileNotFoundError(
        f"{path}: no captions.jsonl and no COCO captions JSON (a .json file with 'images' "
        "and 'annotations') in it, in its coco-captions-mini/ or in its annotations/"
    )


def _looks_like_coco(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return '"images"' in head or '"annotations"' in head


def read_jsonl(path: Path) -> list[tuple[Path, list[str], str]]:
    """``(image path, captions, where)`` per record of a ``captions.jsonl``."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: expected UTF-8 JSON lines: {exc}") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:  # nested too deep: RecursionError
            raise ValueError(f"{where}: not a JSON record: {exc}") from exc
        if not isinstance(rec, dict) or not isinstance(rec.get("file"), str):
            raise ValueError(f"{where}: expected a record with a 'file' string, got {line[:80]!r}")
        caps = rec.get("captions")
        if not isinstance(caps, list) or not caps or not all(isinstance(c, str) for c in caps):
            raise ValueError(f"{where}: expected 'captions', a non-empty list of strings")
        out.append((path.parent / rec["file"], [c.strip() for c in caps], where))
    return out


def read_coco_json(path: Path) -> list[tuple[Path, list[str], str]]:
    """``(image path, captions, where)`` per captioned image of a COCO captions JSON."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: not a COCO captions JSON file: {exc}") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("images"), list)
        or not isinstance(data.get("annotations"), list)
    ):
        raise ValueError(f"{path}: expected a JSON object with 'images' and 'annotations' lists")
    files: dict[Any, str] = {}
    ids = (str, int)  # JSON values that can name an image
    for i, img in enumerate(data["images"]):
        if (
            not isinstance(img, dict)
            or not isinstance(img.get("id"), ids)
            or "file_name" not in img
        ):
            raise ValueError(f"{path}: images[{i}] needs 'id' and 'file_name', got {img!r:.80}")
        files[img["id"]] = str(img["file_name"])
    caps: dict[Any, list[str]] = {}
    for i, ann in enumerate(data["annotations"]):
        if (
            not isinstance(ann, dict)
            or not isinstance(ann.get("image_id"), ids)
            or "caption" not in ann
        ):
            raise ValueError(f"{path}: annotations[{i}] needs 'image_id' and 'caption'")
        if ann["image_id"] not in files:
            raise ValueError(
                f"{path}: annotations[{i}] refers to image_id {ann['image_id']!r}, "
                "which is not among 'images'"
            )
        caps.setdefault(ann["image_id"], []).append(str(ann["caption"]).strip())
    suffix = path.stem.split("_")[-1]
    roots = [path.parent, path.parent / "images", path.parent / suffix]
    roots += [path.parent / "images" / suffix, path.parent.parent / suffix]
    roots += [path.parent.parent / "images" / suffix, path.parent.parent / "images"]
    out = []
    for image_id, texts in caps.items():
        name = files[image_id]
        found = next((r / name for r in roots if (r / name).is_file()), roots[0] / name)
        out.append((found, texts, f"{path} (image_id {image_id})"))
    return out


def load(given: str | Path = "", size: int = DEFAULT_SIZE) -> CaptionSet:
    """All captioned images of a COCO-style folder, as ``size`` x ``size`` RGB."""
    path = find_captions(given)
    records = read_jsonl(path) if path.suffix == ".jsonl" else read_coco_json(path)
    if not records:
        raise ValueError(f"{path}: holds no captioned images")
    images = np.empty((len(records), size, size, 3), dtype=np.uint8)  # (N, S, S, 3)
    for i, (image, _, where) in enumerate(records):
        if not image.is_file():
            raise FileNotFoundError(f"{where}: image file not found: {image}")
        try:
            images[i] = load_image(image, size)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
    names = [
        str(r[0].relative_to(path.parent)) if r[0].is_relative_to(path.parent) else str(r[0])
        for r in records
    ]
    return CaptionSet(images, [r[1] for r in records], names)
