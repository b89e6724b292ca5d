"""Where each step's data comes from: seeded, and deterministic in the step.

A resumed run must see exactly the batches it would have seen, so every sampler here is
a function of ``(seed, step)`` and of nothing else (no hidden state that a restart would
lose):

- ``step_generator(seed, step)``: a fresh CPU generator for one step's random draws.
- ``EpochSampler``: shuffled mini-batch indices over a fixed data set, a new permutation
  each epoch, addressable by step.
- ``sample_hash_split``: generated token sequences of one split (train, dev, test), the
  split fixed by a hash of each sequence (``hash_bucket``), so held-out sequences are
  never trained on however many are drawn.
- ``seed_everything(seed)``: seeds Python's, NumPy's and torch's global generators.

A ``batch_fn`` for ``rnnlab.training.loop.fit`` over a fixed data set::

    sampler = EpochSampler(len(train_x), batch_size=32, seed=cfg.seed)
    batch_fn = lambda step: (train_x[sampler.indices(step)], train_y[sampler.indices(step)])

and over generated sequences (here bits, as the parity task draws them)::

    def batch_fn(step):
        gen = step_generator(cfg.seed, step)
        return sample_hash_split(64, "train", 2, 1, 20, gen, pad=0, shared_below=64)
"""

from __future__ import annotations

import functools
import random

import numpy as np
import torch

from rnnlab.nn.layers import length_mask

HASH_SPLITS = {"test": 0, "dev": 1}  # hash bucket of each held-out split; 2..9 are train
_P = 2_147_483_647  # a prime modulus for the sequence hash
_C = 1_000_003  # its multiplier
_MIX = 2_654_435_761  # Knuth's multiplicative mix, so that the bucket uses the high bits


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy and torch (CPU and CUDA) from one integer.

    >>> seed_everything(3); a = torch.rand(2); seed_everything(3)
    >>> torch.equal(a, torch.rand(2))
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def step_generator(seed: int, step: int) -> torch.Generator:
    """A CPU generator that depends only on ``(seed, step)``: data for a step, reproducibly.

    >>> a = torch.randint(0, 10, (3,), generator=step_generator(0, 5))
    >>> torch.equal(a, torch.randint(0, 10, (3,), generator=step_generator(0, 5)))
    True
    """
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + step) % (2**63 - 1))
    return g


class EpochSampler:
    """Shuffled mini-batch indices, a fresh permutation each epoch, addressable by step.

    ``per_epoch`` batches make one epoch (the last one short unless ``drop_last``);
    ``indices(step)`` is batch ``step % per_epoch`` of epoch ``step // per_epoch``. Each
    epoch visits every index exactly once:

    >>> s = EpochSampler(10, batch_size=4, seed=0)
    >>> s.per_epoch
    3
    >>> sorted(torch.cat([s.indices(step) for step in range(3)]).tolist()) == list(range(10))
    True

    ``fit(..., steps_per_epoch=s.per_epoch)`` lets ``TrainConfig.epochs`` count epochs.
    """

    def __init__(self, n: int, batch_size: int, seed: int, drop_last: bool = False) -> None:
        if n <= 0:
            raise ValueError(f"cannot sample batches from an empty data set (n={n})")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = n // batch_size if drop_last and n >= batch_size else -(-n // batch_size)
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        """The ``(batch_size,)`` data indices of ``step`` (fewer at an epoch's end)."""
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._perm = torch.randperm(self.n, generator=step_generator(self.seed, -1 - epoch))
            self._epoch = epoch
        return self._perm[i * self.batch_size : (i + 1) * self.batch_size]


@functools.lru_cache(maxsize=64)
def _powers(steps: int) -> torch.Tensor:
    out = [1]
    for _ in range(steps):
        out.append(out[-1] * _C % _P)
    return torch.tensor(out, dtype=torch.long)  # (T + 1,)


def hash_bucket(tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """A bucket ``0..9`` per sequence, from its tokens and length only: ``(B,)``.

    ``tokens`` is ``(B, T)`` of non-negative ids, right-padded with anything (positions
    at and after a row's length are ignored). The hash is Horner's rule
    ``h = L; h = (h * c + token + 1) mod P`` over the real steps, written out as
    ``L c^L + sum_i (token_i + 1) c^(L-1-i)`` so that it takes a few tensor operations
    instead of a loop over time; bucket ``(h * 2654435761) mod 2^32 mod 10``.

    >>> hash_bucket(torch.tensor([[3, 1, 4, 9], [3, 1, 4, 0]]), torch.tensor([3, 3])).tolist()
    [0, 0]
    """
    steps = tokens.shape[1]
    powers = _powers(steps)  # (T + 1,): c^j mod P
    lengths = lengths.long()
    exponent = lengths.unsqueeze(1) - 1 - torch.arange(steps)  # (B, T): L - 1 - i
    real = exponent >= 0  # (B, T)
    terms = (tokens.long() + 1) * powers[exponent.clamp(min=0)] % _P * real  # (B, T)
    h = (lengths * powers[lengths] + terms.sum(1)) % _P  # (B,)
    return (h * _MIX) % 2**32 % 10  # (B,)


def sample_hash_split(
    n: int,
    split: str | None,
    vocab: int,
    min_len: int,
    max_len: int,
    gen: torch.Generator,
    *,
    pad: int,
    shared_below: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random sequences of tokens ``0..vocab-1`` that belong to one split.

    ``split`` is ``train`` (hash buckets 2..9, 80% of all sequences), ``dev`` (bucket 1),
    ``test`` (bucket 0) or None (any sequence). Lengths are uniform in
    ``min_len..max_len`` and tokens uniform; each row keeps its drawn length and redraws
    its tokens until they fall in the split. Lengths with fewer than ``shared_below``
    possible sequences (``vocab ** L``) are too few to hold any out: those sequences
    belong to every split. Returns ``tokens (n, max_len)`` with ``pad`` after each
    length, and ``lengths (n,)``.

    The draws are: the lengths, then all ``(n, max_len)`` tokens, then one
    ``(m, max_len)`` redraw per round for the ``m`` rows still outside the split, so the
    result depends only on the arguments and the generator's state.

    >>> g = torch.Generator().manual_seed(0)
    >>> tokens, lengths = sample_hash_split(4, "dev", 10, 3, 5, g, pad=10, shared_below=100)
    >>> hash_bucket(tokens, lengths).tolist()
    [1, 1, 1, 1]
    """
    if not 1 <= min_len <= max_len:
        raise ValueError(f"lengths must satisfy 1 <= min_len <= max_len, got {min_len}..{max_len}")
    if split is not None and split != "train" and split not in HASH_SPLITS:
        raise ValueError(f"split expects train, dev or test, got {split!r}")
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=gen)  # (n,)
    real = length_mask(lengths, max_len)  # (n, T)
    tokens = torch.randint(0, vocab, (n, max_len), generator=gen).masked_fill(~real, pad)
    if split is None:
        return tokens, lengths
    shared = float(vocab) ** lengths.double() < shared_below  # (n,)
    todo = torch.ones(n, dtype=torch.bool)  # (n,)
    for _ in range(10_000):
        b = hash_bucket(tokens[todo], lengths[todo])  # (m,): only the rows still to place
        ok = shared[todo] | ((b >= 2) if split == "train" else (b == HASH_SPLITS[split]))
        todo[todo.clone()] = ~ok
        if not bool(todo.any()):
            return tokens, lengths
        redraw = torch.randint(0, vocab, (int(todo.sum()), max_len), generator=gen)  # (m, T)
        tokens[todo] = redraw.masked_fill(~real[todo], pad)
    raise ValueError(  # pragma: no cover - the split is never empty above shared_below
        f"could not draw {split} sequences of lengths {min_len}..{max_len} with {vocab} tokens"
    )
