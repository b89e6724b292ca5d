"""Shapes: a seeded generator of small captioned scenes, built in, no data needed.

A scene has 1 to 3 shapes, each in its own cell of a 3 x 3 grid, with a kind (circle,
square, triangle, diamond), a colour (red, green, blue, yellow, purple) and a size (small,
large), drawn on white with a little jitter of position and colour. The caption names the
shapes in reading order by columns (left to right, then top to bottom within a column)
and joins neighbours with "left of" when the next one is in a column further right, else
"above"::

    a large red circle left of a small blue square above a small green triangle

Four colour-kind pairs (:data:`HELD_OUT`) never appear in training scenes: each colour
and each kind is still seen with others, so captioning "a small blue circle" right tests
compositional generalization. ``split="heldout"`` scenes contain at least one of them.

``python -m rnnlab.tasks.caption.shapes OUT_DIR -n 8`` writes PNG scenes and a
``captions.jsonl`` (the format of :mod:`rnnlab.tasks.caption.coco`) to try ``predict`` on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.tasks.caption.data import CaptionSet

KINDS = ("circle", "square", "triangle", "diamond")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 160, 60),
    "blue": (45, 85, 215),
    "yellow": (235, 195, 30),
    "purple": (145, 60, 185),
}
SIZES = ("small", "large")
HELD_OUT: frozenset[tuple[str, str]] = frozenset(
    {("red", "triangle"), ("green", "diamond"), ("blue", "circle"), ("yellow", "square")}
)
SEEN = tuple((c, k) for c in COLOURS for k in KINDS if (c, k) not in HELD_OUT)
GRID = 3
SPLITS = {"train": 0, "dev": 1, "test": 2, "heldout": 3}
DEFAULT_SIZE = 32


@dataclass(frozen=True)
class Shape:
    kind: str
    colour: str
    size: str
    col: int  # 0 left .. GRID-1 right
    row: int  # 0 top .. GRID-1 bottom

    def words(self) -> str:
        return f"a {self.size} {self.colour} {self.kind}"


@dataclass(frozen=True)
class Scene:
    shapes: tuple[Shape, ...]  # in caption order

    @property
    def caption(self) -> str:
        parts = [self.shapes[0].words()]
        for prev, cur in zip(self.shapes, self.shapes[1:], strict=False):
            parts.append("left of" if cur.col > prev.col else "above")
            parts.append(cur.words())
        return " ".join(parts)


def sample_scene(rng: np.random.Generator, held_out: bool = False, max_shapes: int = 3) -> Scene:
    """A random scene; ``held_out`` ones contain at least one pair of :data:`HELD_OUT`."""
    n = int(rng.integers(1, max_shapes + 1))
    cells = rng.choice(GRID * GRID, size=n, replace=False)
    pairs = [SEEN[int(rng.integers(len(SEEN)))] for _ in range(n)]
    if held_out:
        held = sorted(HELD_OUT)
        pairs[int(rng.integers(n))] = held[int(rng.integers(len(held)))]
    shapes = [
        Shape(kind, colour, SIZES[int(rng.integers(2))], int(c) % GRID, int(c) // GRID)
        for (colour, kind), c in zip(pairs, cells, strict=True)
    ]
    shapes.sort(key=lambda s: (s.col, s.row))
    return Scene(tuple(shapes))


def render(scene: Scene, size: int, rng: np.random.Generator, supersample: int = 4) -> np.ndarray:
    """Draw ``scene`` as a ``(size, size, 3)`` uint8 RGB image on white."""
    from PIL import Image, ImageDraw

    big = size * supersample
    img = Image.new("RGB", (big, big), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    cell = big / GRID
    for s in scene.shapes:
        r = cell * (0.42 if s.size == "large" else 0.26)
        slack = max(0.0, cell / 2 - r - supersample)
        cx = (s.col + 0.5) * cell + rng.uniform(-slack, slack)
        cy = (s.row + 0.5) * cell + rng.uniform(-slack, slack)
        jitter = rng.integers(-20, 21, size=3)
        colour = tuple(int(v) for v in np.clip(np.array(COLOURS[s.colour]) + jitter, 0, 255))
        if s.kind == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        elif s.kind == "square":
            h = r * 0.85
            draw.rectangle((cx - h, cy - h, cx + h, cy + h), fill=colour)
        elif s.kind == "triangle":
            draw.polygon(
                [(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)], fill=colour
            )
        else:  # diamond
            draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    small = img.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8).copy()  # (S, S, 3)


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    if split not in SPLITS:
        raise ValueError(f"shapes split must be one of {', '.join(SPLITS)}, got {split!r}")
    return np.random.default_rng([seed, SPLITS[split], index])


def generate(n: int, seed: int, split: str = "train", size: int = DEFAULT_SIZE) -> CaptionSet:
    """``n`` scenes of one split; scene ``i`` depends only on ``(seed, split, i)``."""
    images = np.empty((n, size, size, 3), dtype=np.uint8)  # (N, S, S, 3)
    captions: list[list[str]] = []
    for i in range(n):
        rng = _rng(seed, split, i)
        scene = sample_scene(rng, held_out=split == "heldout")
        images[i] = render(scene, size, rng)
        captions.append([scene.caption])
    return CaptionSet(images, captions, [f"shapes-{split}-{i}" for i in range(n)])


def train_batch(seed: int, step: int, batch_size: int, size: int = DEFAULT_SIZE) -> CaptionSet:
    """Fresh training scenes for one optimizer step: the same step gives the same scenes."""
    images = np.empty((batch_size, size, size, 3), dtype=np.uint8)  # (B, S, S, 3)
    captions: list[list[str]] = []
    rng = np.random.default_rng([seed, 99, step])
    for i in range(batch_size):
        scene = sample_scene(rng)
        images[i] = render(scene, size, rng)
        captions.append([scene.caption])
    return CaptionSet(images, captions, [f"shapes-step{step}-{i}" for i in range(batch_size)])


def held_out_mentions(caption: str) -> list[str]:
    """The held-out "colour kind" pairs a caption names, in order (with repeats)."""
    words = caption.split()
    return [f"{a} {b}" for a, b in itertools.pairwise(words) if (a, b) in HELD_OUT]


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    p = argparse.ArgumentParser(prog="python -m rnnlab.tasks.caption.shapes")
    p.add_argument("out", help="folder for the PNG files and captions.jsonl")
    p.add_argument("-n", type=int, default=8)
    p.add_argument("--split", default="test", choices=sorted(SPLITS))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", type=int, default=DEFAULT_SIZE)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = generate(args.n, args.seed, args.split, args.size)
    lines = []
    for i in range(len(data)):
        name = f"{args.split}-{i:04d}.png"
        Image.fromarray(data.images[i]).save(out / name)
        lines.append(json.dumps({"file": name, "captions": data.captions[i]}))
    (out / "captions.jsonl").write_text("".join(x + "\n" for x in lines))
    print(f"wrote {len(data)} scenes to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
