"""Caption generation: one image in, a sentence out (one-to-many).

Data (``data.name``): ``shapes`` (built in, generated scenes), ``openmoji`` (emoji →
their names, ``../shared/data/openmoji``) or ``coco`` (any COCO-style captions folder;
``../shared/data/coco-captions-mini`` is a smoke test). One example, exactly as the
model sees it (shapes; the ids are those of the benchmark run's vocabulary)::

    image    (32, 32, 3) uint8 RGB       a large red circle left of a small blue square
    tokens   a large red circle left of a small blue square           (lower-cased)
    inputs   <s>  a  large  red  circle  left  of  a  small  blue  square
             [2,  4, 5,     14,  13,     7,    8,  4, 6,     15,   10]
    targets  a    large red circle left of a small blue square </s>
             [4,  5,    14, 13,    7,   8, 4, 6,    15,  10,    3]

The loss is the cross-entropy of ``targets`` (padding ignored). Decoding starts from
``<s>`` and the image's state and runs greedy or beam search (``rnnlab.nn.decoding``) until
``</s>``. ``evaluate`` reports exact match (the generated tokens equal one reference's),
corpus BLEU-4 (sacrebleu, on lower-cased tokens, all references) and, measured in the same
run, two baselines: the caption of the nearest training image (pixel distance) and the
most frequent training caption. ``shapes`` has a ``heldout`` split of scenes with
colour-kind pairs never seen in training.

    rnnlab train caption --data openmoji --out runs/cap-emoji
    rnnlab eval runs/cap-emoji --split test
    rnnlab predict runs/cap-emoji some.png other.svg --beam 3
    rnnlab predict runs/cap-emoji dev:17 test:0

An input line is an image file's path or ``SPLIT:N``, image N (from 0) of a split of the
run's data set (``train``, ``dev``, ``test``, ``heldout`` for shapes), so that images can
be tried without files of one's own (``examples`` gives ``dev:0``, ``dev:1``, ...; a file
literally named so is read as ``./dev:17``). ``Run.probe`` also takes an uploaded image's
bytes (``encode_bytes``): a PNG or JPEG of at most ``MAX_UPLOAD_BYTES`` (2,000,000) and
4096 x 4096 pixels (``MAX_UPLOAD_SIDE``), made RGB, square and the model's size exactly
as the data's images are (``caption.data.to_square_rgb``). ``probe`` (view
``"caption"``) gives the image the model sees and its ``beam`` best captions with scores.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sacrebleu
import torch
import torch.nn.functional as F

from rnnlab.nn import decoding
from rnnlab.nn.vocab import BOS, EOS, PAD, UNK, Vocab
from rnnlab.tasks.base import Run, Task
from rnnlab.tasks.caption import coco, openmoji, shapes
from rnnlab.tasks.caption.data import (
    CaptionSet,
    caption_tokens,
    decode_image,
    detokenize,
    load_image,
)
from rnnlab.tasks.caption.model import Captioner, ModelConfig
from rnnlab.training.config import RangeChecked, ranged, section, unranged
from rnnlab.training.loop import TrainConfig
from rnnlab.training.samplers import EpochSampler, seed_everything, step_generator

# how the task trains by default: [train] of its Config
TRAIN = TrainConfig(
    lr=2e-3, steps=1200, batch_size=64, eval_every=250, schedule="cosine", warmup=100
)

DATASETS = ("shapes", "openmoji", "coco")
DEFAULT_SIZE = {"shapes": shapes.DEFAULT_SIZE, "openmoji": openmoji.DEFAULT_SIZE, "coco": 64}
RUN_INFO = "caption.json"


@dataclass(frozen=True)
class DataConfig(RangeChecked):
    name: str = ranged("shapes", choices=DATASETS)
    dir: str = unranged("", "a folder path; '' = the default data root")
    # 0 = the data set's default (shapes 48, openmoji 48, coco 64)
    image_size: int = ranged(0, ge=0)
    seed: int = ranged(0, ge=0)  # the split (openmoji, coco) or the scenes (shapes)
    dev_size: int = ranged(500, ge=1)  # shapes: dev scenes
    test_size: int = ranged(1000, ge=1)  # shapes: test scenes, and as many held-out scenes
    # shapes: training scenes the nearest-image baseline searches
    pool_size: int = ranged(5000, ge=1)
    # augmentation of stored images: random shift by up to this many pixels
    shift: int = ranged(2, ge=0)
    # words rarer than this in training captions become <unk>
    min_freq: int = ranged(1, ge=1)


@dataclass(frozen=True)
class DecodeConfig(RangeChecked):
    # 1 = greedy; 3 with alpha 0 was best on OpenMoji dev (docs/captions.md)
    beam: int = ranged(3, ge=1)
    alpha: float = ranged(0.0, ge=0)  # length normalization: score = log p / length ** alpha
    max_len: int = ranged(0, ge=0)  # 0 = the longest training caption + 2


@dataclass(frozen=True)
class Config(RangeChecked):
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    decode: DecodeConfig = section(DecodeConfig)
    train: TrainConfig = TRAIN


# ---------------------------------------------------------------- data


def image_size(cfg: DataConfig) -> int:
    return cfg.image_size or DEFAULT_SIZE[check_name(cfg.name)]


def check_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"data.name expects one of {', '.join(DATASETS)}, got {name!r}")
    return name


def load_splits(cfg: DataConfig, which: Sequence[str]) -> dict[str, CaptionSet]:
    """The named splits. ``shapes``' train split is the baseline's pool of scenes."""
    size = image_size(cfg)
    if cfg.name == "shapes":
        n = {"train": cfg.pool_size, "dev": cfg.dev_size, "test": cfg.test_size}
        n["heldout"] = cfg.test_size
        for s in which:
            if s not in n:
                raise ValueError(f"shapes has splits {', '.join(n)}, not {s!r}")
        return {s: shapes.generate(n[s], cfg.seed, s, size) for s in which}
    full = openmoji.load(cfg.dir, size) if cfg.name == "openmoji" else coco.load(cfg.dir, size)
    parts = openmoji.split(len(full), cfg.seed)
    for s in which:
        if s not in parts:
            raise ValueError(f"{cfg.name} has splits train, dev, test, not {s!r}")
    return {s: full.subset(parts[s]) for s in which}


PAD_ID = 0  # ``<pad>``: the first of the vocabulary's specials


def build_vocab(train: CaptionSet, min_freq: int) -> Vocab:
    seqs = (caption_tokens(c) for refs in train.captions for c in refs)
    return Vocab.build(seqs, min_freq=min_freq, specials=(PAD, UNK, BOS, EOS))


def encode(vocab: Vocab, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forcing ``inputs`` and ``targets``, both ``(B, T)``, padded with ``<pad>``."""
    seqs = [vocab.encode(caption_tokens(c)) for c in captions]
    t = max(len(s) for s in seqs) + 1
    inputs = torch.full((len(seqs), t), vocab.pad_id, dtype=torch.long)  # (B, T)
    targets = torch.full((len(seqs), t), vocab.pad_id, dtype=torch.long)  # (B, T)
    for i, s in enumerate(seqs):
        inputs[i, : len(s) + 1] = torch.tensor([vocab.id(BOS), *s])
        targets[i, : len(s) + 1] = torch.tensor([*s, vocab.id(EOS)])
    return inputs, targets


def shift_images(images: np.ndarray, max_shift: int, g: torch.Generator) -> np.ndarray:
    """Translate each image by up to ``max_shift`` pixels, filling with white."""
    if max_shift <= 0:
        return images
    n, s = images.shape[0], images.shape[1]
    padded = np.pad(
        images, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)), constant_values=255
    )
    offs = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=g).tolist()
    return np.stack(
        [padded[i, y : y + s, x : x + s] for i, (y, x) in enumerate(offs)]
    )  # (B, S, S, 3)


# ---------------------------------------------------------------- decoding and scoring


def caption_batch(
    model: Captioner,
    images: np.ndarray,
    vocab: Vocab,
    max_len: int,
    beam: int = 1,
    alpha: float = 0.7,
    batch_size: int = 256,
) -> list[list[decoding.Hypothesis]]:
    """The best captions of each image: one (greedy) or ``beam`` (beam search) each."""
    device = next(model.parameters()).device
    bos, eos = vocab.id(BOS), vocab.id(EOS)
    out: list[list[decoding.Hypothesis]] = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(images[start : start + batch_size]).to(device)  # (B, S, S, 3)
            state = model.start(x)
            if beam <= 1:
                found = decoding.greedy(model.log_probs, state, bos, eos, len(x), max_len)
                out.extend([h] for h in found.hypotheses())
            else:
                out += decoding.beam_search(model.log_probs, state, bos, eos, beam, max_len, alpha)
    return out


def score(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[str]]) -> dict[str, float]:
    """Exact match (tokens equal to any reference) and corpus BLEU-4 over token strings."""
    ref_tokens = [[caption_tokens(r) for r in rs] for rs in refs]
    exact = sum(any(list(h) == r for r in rs) for h, rs in zip(hyps, ref_tokens, strict=True))
    width = max(len(rs) for rs in ref_tokens)
    streams = [
        [" ".join(rs[k]) if k < len(rs) else None for rs in ref_tokens] for k in range(width)
    ]
    bleu = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], streams)  # type: ignore[arg-type]
    return {"exact": exact / max(1, len(hyps)), "bleu": float(bleu.score)}


def nearest_captions(train: CaptionSet, images: np.ndarray, chunk: int = 512) -> list[list[str]]:
    """Baseline: the first caption of the training image nearest in pixel distance."""
    a = torch.from_numpy(train.images).flatten(1).float()  # (N, D)
    a_sq = (a * a).sum(1)  # (N,)
    out: list[list[str]] = []
    for start in range(0, len(images), chunk):
        b = torch.from_numpy(images[start : start + chunk]).flatten(1).float()  # (n, D)
        dist = a_sq[None, :] - 2 * b @ a.T  # (n, N): |a|^2 - 2ab, |b|^2 is constant per row
        for j in dist.argmin(1).tolist():
            out.append(caption_tokens(train.captions[j][0]))
    return out


def most_frequent_caption(train: CaptionSet) -> list[str]:
    """Baseline: the most frequent training caption (ties: the alphabetically first)."""
    counts = Counter(" ".join(caption_tokens(c)) for refs in train.captions for c in refs)
    best = max(counts.values())
    return min(c for c, n in counts.items() if n == best).split()


def held_out_recall(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[str]]) -> float:
    """shapes: the share of held-out colour-kind mentions in the references that the
    generated captions also name (counted with multiplicity)."""
    want = found = 0
    for h, rs in zip(hyps, refs, strict=True):
        r = Counter(shapes.held_out_mentions(rs[0].lower()))
        g = Counter(shapes.held_out_mentions(" ".join(h)))
        want += sum(r.values())
        found += sum((r & g).values())
    return found / max(1, want)


def save_samples(
    path: Path,
    images: np.ndarray,
    hyps: Sequence[Sequence[str]],
    refs: Sequence[Sequence[str]],
    n: int = 16,
    title: str = "",
) -> Path:
    """A grid of images with the generated (top) and the true (bottom) caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(n, len(images))
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        ax = axes.flat[i]
        ax.imshow(images[i], interpolation="nearest")
        gen, true = detokenize(hyps[i]), detokenize(caption_tokens(refs[i][0]))
        colour = "green" if list(hyps[i]) == caption_tokens(refs[i][0]) else "red"
        ax.set_title(_wrap("gen: " + gen), fontsize=7, color=colour)
        ax.text(
            0.5,
            -0.04,
            _wrap("true: " + true),
            fontsize=7,
            ha="center",
            va="top",
            transform=ax.transAxes,
        )
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _wrap(text: str, width: int = 42) -> str:
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    return "\n".join([*lines, cur])


# ---------------------------------------------------------------- the task contract


@dataclass(frozen=True)
class CaptionVocab:
    """What a captioner needs besides its weights: the vocabulary, the longest caption it
    may write and the image size (``run.json`` and ``vocab.json`` in the run folder)."""

    vocab: Vocab
    max_len: int
    image_size: int


@functools.lru_cache(maxsize=8)
def split_of(d: DataConfig, name: str) -> CaptionSet:
    return load_splits(d, [name])[name]


def caption_images(
    run: Run, images: np.ndarray, beam: int | None = None, alpha: float | None = None
) -> list[list[decoding.Hypothesis]]:
    k = decoding.check_beam(run.cfg.decode.beam if beam is None else beam)
    a = run.cfg.decode.alpha if alpha is None else alpha
    return caption_batch(run.model, images, run.res.vocab, run.res.max_len, k, a)


def evaluate_run(
    run: Run,
    split: str = "dev",
    figure: bool = True,
    beam: int | None = None,
    alpha: float | None = None,
) -> dict[str, float]:
    """Exact match and BLEU-4 of the model and of both baselines on ``split``; saves
    ``samples-<split>.png`` in the run folder when ``figure``. ``beam`` and ``alpha``
    default to the run's ``decode`` settings."""
    cfg, vocab = run.cfg, run.res.vocab
    data, train = split_of(cfg.data, split), split_of(cfg.data, "train")
    t0 = time.perf_counter()
    found = caption_images(run, data.images, beam, alpha)
    hyps = [vocab.decode(h[0].tokens) for h in found]
    seconds = time.perf_counter() - t0
    metrics = score(hyps, data.captions)
    near = score(nearest_captions(train, data.images), data.captions)
    mfc = score([most_frequent_caption(train)] * len(data), data.captions)
    out = {**metrics, "n": float(len(data)), "decode_seconds": round(seconds, 3)}
    out.update({f"nearest_{k}": v for k, v in near.items()})
    out.update({f"frequent_{k}": v for k, v in mfc.items()})
    if cfg.data.name == "shapes" and split == "heldout":
        out["heldout_pair_recall"] = held_out_recall(hyps, data.captions)
    if figure:
        title = f"{cfg.data.name} {split}: exact {out['exact']:.3f}, BLEU {out['bleu']:.1f}"
        path = run.run_dir / f"samples-{split}.png"
        save_samples(path, data.images, hyps, data.captions, title=title)
    return out


# an encoded input: an image file's path or SPLIT:N, both read when answered, or an image
CaptionInput = str | np.ndarray
SPLIT_IMAGE = re.compile(r"(train|dev|test|heldout):(\d+)")  # SPLIT:N, image N of a split
MAX_UPLOAD_BYTES = 2_000_000  # the largest uploaded image (encode_bytes)
MAX_UPLOAD_SIDE = 4096  # an uploaded image's widest side, in pixels
UPLOAD_FORMATS = ("PNG", "JPEG", "MPO")  # PIL's names; MPO: a camera's JPEG


def image_of(run: Run, x: CaptionInput) -> np.ndarray:
    """The ``(S, S, 3)`` uint8 image an encoded input stands for."""
    if isinstance(x, np.ndarray):
        return x
    ref = SPLIT_IMAGE.fullmatch(x)
    if ref:
        return split_of(run.cfg.data, ref[1]).images[int(ref[2])]
    return load_image(x, run.res.image_size)


def caption_line(vocab: Vocab, hyps: Sequence[decoding.Hypothesis], beam: int | None) -> str:
    """``predict``'s line for an image's captions: the best, or with ``beam`` > 1 all of
    them with their scores."""
    if beam is None or beam <= 1:
        return detokenize(vocab.decode(hyps[0].tokens))
    return " | ".join(f"{detokenize(vocab.decode(h.tokens))} ({h.score:.3f})" for h in hyps)


def png_data_url(image: np.ndarray) -> str:
    """An ``(S, S, 3)`` uint8 image as a ``data:image/png;base64,...`` URL."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(image).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class CaptionTask(Task[Config, CaptionVocab, Captioner, CaptionInput]):
    """``predict(["cat.png"])`` -> the image's caption; ``beam=k`` gives the k best."""

    name = "caption"
    config_type = Config
    metric = "bleu"
    splits = ("train", "dev", "test", "heldout")
    predict_options = ("beam",)
    predict_batch_tokens = 64  # images captioned at once (each one file read, then dropped)

    def prepare(self, cfg: Config, run_dir: Path | None) -> CaptionVocab:
        check_name(cfg.data.name)
        seed_everything(cfg.train.seed)
        train_set = split_of(cfg.data, "train")
        vocab = build_vocab(train_set, cfg.data.min_freq)
        longest = max(len(caption_tokens(c)) for refs in train_set.captions for c in refs)
        res = CaptionVocab(vocab, cfg.decode.max_len or longest + 2, image_size(cfg.data))
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            vocab.save(run_dir / "vocab.json")
            info = {"max_len": res.max_len, "image_size": res.image_size}
            info["train_images"] = len(train_set)
            (run_dir / RUN_INFO).write_text(json.dumps(info, indent=1))
        return res

    def restore(self, cfg: Config, run_dir: Path) -> CaptionVocab:
        check_name(cfg.data.name)
        vocab = Vocab.load(run_dir / "vocab.json")
        info_path = run_dir / RUN_INFO
        if not info_path.is_file():
            raise FileNotFoundError(f"{run_dir} is not a caption run folder: {RUN_INFO} is missing")
        try:
            info = json.loads(info_path.read_text())
            max_len = int(info["max_len"])
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{info_path}: damaged run information: {exc}") from exc
        return CaptionVocab(vocab, max_len, image_size(cfg.data))

    def build_model(self, cfg: Config, res: CaptionVocab) -> Captioner:
        v = res.vocab
        return Captioner(len(v), cfg.model, banned=(v.pad_id, v.unk_id, v.id(BOS)))

    def train_batches(
        self, cfg: Config, res: CaptionVocab, device: torch.device
    ) -> Callable[[int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        train_set, size = split_of(cfg.data, "train"), res.image_size
        sampler = EpochSampler(len(train_set), cfg.train.batch_size, cfg.train.seed)

        def batch_fn(step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            if cfg.data.name == "shapes":
                b = shapes.train_batch(cfg.data.seed, step, cfg.train.batch_size, size)
                images, captions = b.images, [c[0] for c in b.captions]
            else:
                idx = sampler.indices(step).tolist()
                g = step_generator(cfg.train.seed, step)
                pick = torch.randint(0, 1 << 30, (len(idx),), generator=g).tolist()
                captions = [
                    train_set.captions[i][p % len(train_set.captions[i])]
                    for i, p in zip(idx, pick, strict=True)
                ]
                images = shift_images(train_set.images[idx], cfg.data.shift, g)
            inputs, targets = encode(res.vocab, captions)
            return torch.from_numpy(images).to(device), inputs.to(device), targets.to(device)

        return batch_fn

    def loss(self, cfg: Config, model: Captioner, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        images, inputs, targets = batch
        logits = model(images, inputs)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD_ID)

    def loss_count(self, cfg: Config, batch: tuple[torch.Tensor, ...]) -> float:
        return float((batch[2] != PAD_ID).sum())  # target tokens

    def evaluator(
        self, cfg: Config, res: CaptionVocab, split: str, device: torch.device
    ) -> Callable[[Captioner], dict[str, float]]:
        data = split_of(cfg.data, split)

        def metrics(m: Captioner) -> dict[str, float]:
            hyps = caption_batch(m, data.images, res.vocab, res.max_len)
            return score([res.vocab.decode(h[0].tokens) for h in hyps], data.captions)

        return metrics

    def train(
        self, cfg: Config, run_dir: Path, device: torch.device, progress: bool = True
    ) -> dict[str, float]:
        desc = f"caption {cfg.data.name}"
        model, res, result, _ = self.fit(cfg, device, run_dir, progress=progress, desc=desc)
        metrics = evaluate_run(Run(self, cfg, res, model, device, run_dir), "dev")
        metrics.update(
            train_seconds=round(result.seconds, 1),
            threads=float(torch.get_num_threads()),
            best_step=float(result.best_step),
        )
        return metrics

    def evaluate(self, run: Run, split: str) -> dict[str, float]:
        return evaluate_run(run, split)

    def encode(self, cfg: Config, res: CaptionVocab, line: str, where: str) -> CaptionInput:
        """An image file's path, or ``SPLIT:N`` (image N of a split, e.g. ``dev:17``)."""
        text = line.strip()
        if not text:
            raise ValueError(f"{where} is empty: expected the path of an image or SPLIT:N")
        ref = SPLIT_IMAGE.fullmatch(text)
        if ref:
            split, i = ref[1], int(ref[2])
            try:
                n = len(split_of(cfg.data, split))
            except ValueError as exc:
                raise ValueError(f"{where}: {text}: {exc}") from exc
            if i >= n:
                raise ValueError(f"{where}: {text}: the {split} split has images 0..{n - 1}")
        return text

    def encode_bytes(self, cfg: Config, res: CaptionVocab, data: bytes, where: str) -> CaptionInput:
        """An uploaded PNG or JPEG of at most ``MAX_UPLOAD_BYTES`` and ``MAX_UPLOAD_SIDE``
        pixels a side, made ``(S, S, 3)`` RGB as the data's images are (alpha on white,
        centre square, resized to the model's image size)."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValueError(
                f"{where}: {len(data):,} bytes; uploaded images of at most "
                f"{MAX_UPLOAD_BYTES:,} bytes are read (caption.task.MAX_UPLOAD_BYTES)"
            )
        return decode_image(
            io.BytesIO(data), res.image_size, where, UPLOAD_FORMATS, MAX_UPLOAD_SIDE
        )

    def input_size(self, x: CaptionInput) -> int:
        return 1  # one image; its file's size and pixels are bounded by load_image

    def answer(
        self, run: Run, xs: Sequence[CaptionInput], beam: int | None = None, **options: Any
    ) -> list[str]:
        """One line per image: the caption, or with ``beam=k`` (k > 1) the k best as
        ``caption (score) | caption (score) | ...``, scores being length-normalized log p."""
        images = np.stack([image_of(run, x) for x in xs])  # (B, S, S, 3)
        results = caption_images(run, images, beam)
        return [caption_line(run.res.vocab, hs, beam) for hs in results]

    def probe(
        self, run: Run, x: CaptionInput, beam: int | None = None, **options: Any
    ) -> dict[str, Any]:
        """View ``"caption"``: the image the model sees (a PNG data URL, S x S) and its
        captions, best first (``beam`` of them, default the run's ``decode.beam``), each
        with its ``score`` (log p / length ** alpha, what beam search ranks by) and its
        total log-probability ``logp``."""
        image = image_of(run, x)  # (S, S, 3)
        hyps = caption_images(run, image[None], beam)[0]
        vocab = run.res.vocab
        return {
            "view": "caption",
            "answer": caption_line(vocab, hyps, beam),
            "image": png_data_url(image),
            "captions": [
                {
                    "text": detokenize(vocab.decode(h.tokens)),
                    "score": round(h.score, 4),
                    "logp": round(h.logp, 4),
                }
                for h in hyps
            ],
        }

    def examples(self, run: Run, n: int) -> list[str]:
        """``dev:0``, ``dev:1``, ...: the first ``n`` dev images (none when the data set is
        not where the run's config says)."""
        try:
            size = len(split_of(run.cfg.data, "dev"))
        except FileNotFoundError:
            return []
        return [f"dev:{i}" for i in range(min(max(0, n), size))]


TASK = CaptionTask()
