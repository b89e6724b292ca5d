"""caption ``probe`` (view "caption"), ``SPLIT:N`` inputs, uploads (``encode_bytes``) and
examples: an uploaded PNG gives the captions of the same image read from a file or from
the data, bad uploads are refused naming the limit."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rnnlab.tasks.base import Run
from rnnlab.tasks.caption import task as caption
from rnnlab.training.config import apply_overrides

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """An untrained tiny captioner on shapes (built in: no data needed)."""
    sets = ["data.image_size=16", "data.dev_size=8", "data.pool_size=16", "data.test_size=8"]
    sets += ["model.channels=[4, 8]", "model.hidden=8", "model.embed=6", "model.attn_dim=5"]
    cfg = apply_overrides(caption.Config(), sets)
    res = caption.TASK.prepare(cfg, None)
    torch.manual_seed(0)
    model = caption.TASK.build_model(cfg, res).eval()
    return Run(caption.TASK, cfg, res, model, CPU, tmp_path_factory.mktemp("cap"))


def _bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _unpack(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_probe_of_a_dev_image(run: Run) -> None:
    got = run.probe("dev:3")
    assert json.loads(json.dumps(got)) == got
    assert got["view"] == "caption" and got["answer"] == run.predict(["dev:3"])[0]
    assert len(got["captions"]) == run.cfg.decode.beam  # predict's default beam
    assert got["captions"][0]["text"] == got["answer"]
    scores = [c["score"] for c in got["captions"]]
    assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)
    dev = caption.split_of(run.cfg.data, "dev")
    assert np.array_equal(_unpack(got["image"]), dev.images[3])  # what the model saw
    two = run.probe("dev:3", beam=2)
    assert two["answer"] == run.predict(["dev:3"], beam=2)[0] and len(two["captions"]) == 2
    assert " | ".join(f"{c['text']} ({c['score']:.3f})" for c in two["captions"]) == two["answer"]
    one = run.probe("dev:3", beam=1)
    assert one["answer"] == run.predict(["dev:3"], beam=1)[0] == one["captions"][0]["text"]
    assert run.predict(["heldout:0"]) == [run.probe("heldout:0")["answer"]]


def test_upload_gives_the_captions_of_the_same_image_by_the_data_path(
    run: Run, tmp_path: Path
) -> None:
    dev = caption.split_of(run.cfg.data, "dev")
    as_png = _bytes(Image.fromarray(dev.images[5]))  # already the model's size: unchanged
    assert run.probe(as_png)["captions"] == run.probe("dev:5")["captions"]
    # a bigger RGBA picture: squared, laid on white and resized as files are
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 256, (30, 44, 4), dtype=np.uint8), "RGBA")
    big.save(tmp_path / "pic.png")
    up = run.probe(_bytes(big), beam=2)
    from_file = run.probe(str(tmp_path / "pic.png"), beam=2)
    assert up["captions"] == from_file["captions"] and up["image"] == from_file["image"]
    assert up["answer"] == run.predict([str(tmp_path / "pic.png")], beam=2)[0]
    assert _unpack(up["image"]).shape == (16, 16, 3)
    jpeg = _bytes(big.convert("RGB"), "JPEG")
    (tmp_path / "pic.jpg").write_bytes(jpeg)
    assert run.probe(jpeg)["captions"] == run.probe(str(tmp_path / "pic.jpg"))["captions"]


def _png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header then claims ``width x height`` (CRC fixed up)."""
    data = bytearray(_bytes(Image.new("RGB", (1, 1), "white")))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.random.default_rng(1).bytes(3000), r"upload: not an image file that PIL can read"),
        (b"", "not an image file"),
        (b"\x89PNG" + bytes(2_000_000), r"upload: 2,000,004 bytes; .* at most 2,000,000 bytes"),
        (_png_claiming(4097, 10), r"upload: 4097 x 10 pixels; .* at most 4096 x 4096"),
        (_png_claiming(100_000, 100_000), r"upload: more than 4096 x 4096 pixels"),
        (_bytes(Image.new("RGB", (8, 8)), "GIF"), r"upload: a GIF image; expected PNG or JPEG"),
    ],
)
def test_bad_uploads_are_refused(run: Run, data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run.probe(data)


def test_split_references_and_examples(run: Run) -> None:
    with pytest.raises(ValueError, match=r"input: dev:8: the dev split has images 0\.\.7"):
        run.probe("dev:8")
    with pytest.raises(ValueError, match=r"input line 2: dev:99"):
        run.predict(["dev:0", "dev:99"])
    with pytest.raises(FileNotFoundError, match="image file not found"):
        run.probe("nowhere.png")
    with pytest.raises(ValueError, match="does not take temperature"):
        run.probe("dev:0", temperature=1.0)
    assert caption.TASK.examples(run, 3) == ["dev:0", "dev:1", "dev:2"]
    assert len(caption.TASK.examples(run, 100)) == 8  # the dev split's size
    assert [run.probe(e)["answer"] for e in caption.TASK.examples(run, 8)] == run.predict(
        caption.TASK.examples(run, 8)
    )
