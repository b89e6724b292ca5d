import doctest

import pytest
import torch

from rnnlab.tasks.parity import task as parity
from rnnlab.tasks.reverse import task as reverse
from rnnlab.training import samplers
from rnnlab.training.samplers import (
    EpochSampler,
    hash_bucket,
    sample_hash_split,
    seed_everything,
    step_generator,
)


def test_docstring_examples_hold():
    assert doctest.testmod(samplers).failed == 0


def test_epoch_sampler_covers_each_epoch_once():
    s = EpochSampler(10, 3, seed=0)
    epoch = torch.cat([s.indices(i) for i in range(4)])
    assert sorted(epoch.tolist()) == list(range(10))
    assert not torch.equal(torch.cat([s.indices(i) for i in range(4, 8)]), epoch)
    assert torch.equal(EpochSampler(10, 3, seed=0).indices(5), s.indices(5))  # by step alone
    assert EpochSampler(10, 3, seed=0, drop_last=True).per_epoch == 3
    with pytest.raises(ValueError, match="empty"):
        EpochSampler(0, 3, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        EpochSampler(5, 0, seed=0)


def test_step_generator_depends_on_seed_and_step():
    a = torch.rand(3, generator=step_generator(1, 5))
    assert torch.equal(a, torch.rand(3, generator=step_generator(1, 5)))
    assert not torch.equal(a, torch.rand(3, generator=step_generator(1, 6)))
    assert not torch.equal(a, torch.rand(3, generator=step_generator(2, 5)))


def test_seed_everything_seeds_all_three():
    import random

    import numpy as np

    seed_everything(11)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(11)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


# --- the hash split: an independent, loop-by-loop reference ---------------------------


def horner_bucket(tokens: list[int]) -> int:
    h = len(tokens)
    for t in tokens:
        h = (h * 1_000_003 + t + 1) % 2_147_483_647
    return (h * 2_654_435_761) % 2**32 % 10


def reference_split(n, split, k, lo, hi, gen, pad, shared_below):
    """The pre-merge reverse sampler, written row by row: lengths, all tokens, then one
    redraw of the rows still outside the split per round."""
    lengths = torch.randint(lo, hi + 1, (n,), generator=gen)
    tokens = torch.randint(0, k, (n, hi), generator=gen)
    for i, n_i in enumerate(lengths.tolist()):
        tokens[i, n_i:] = pad
    if split is None:
        return tokens, lengths
    want = {"test": [0], "dev": [1], "train": list(range(2, 10))}[split]

    def ok(i: int) -> bool:
        n_i = int(lengths[i])
        return k**n_i < shared_below or horner_bucket(tokens[i, :n_i].tolist()) in want

    todo = [i for i in range(n) if not ok(i)]
    while todo:
        redraw = torch.randint(0, k, (len(todo), hi), generator=gen)
        for row, i in enumerate(todo):
            n_i = int(lengths[i])
            tokens[i, :n_i] = redraw[row, :n_i]
        todo = [i for i in todo if not ok(i)]
    return tokens, lengths


@pytest.mark.parametrize(
    ("k", "pad", "shared_below"), [(10, 10, 100), (3, 3, 100), (2, 0, 64)]
)  # reverse's and parity's settings
@pytest.mark.parametrize("split", ["train", "dev", "test", None])
def test_hash_split_matches_the_reference(k, pad, shared_below, split):
    for seed in range(3):
        got = sample_hash_split(
            300,
            split,
            k,
            1,
            9,
            torch.Generator().manual_seed(seed),
            pad=pad,
            shared_below=shared_below,
        )
        want = reference_split(
            300, split, k, 1, 9, torch.Generator().manual_seed(seed), pad, shared_below
        )
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_hash_bucket_is_horners_rule_and_ignores_padding():
    g = torch.Generator().manual_seed(4)
    tokens, lengths = sample_hash_split(400, None, 7, 1, 30, g, pad=99, shared_below=1)
    want = [horner_bucket(tokens[i, : lengths[i]].tolist()) for i in range(400)]
    assert hash_bucket(tokens, lengths).tolist() == want
    assert hash_bucket(tokens.masked_fill(tokens == 99, 0), lengths).tolist() == want


def test_task_samplers_are_the_shared_one():
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = reverse.sample_split(200, "dev", 10, 1, 8, g1)
    b = sample_hash_split(200, "dev", 10, 1, 8, g2, pad=10, shared_below=100)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = parity.sample_split(200, "test", 1, 20, g1)
    b = sample_hash_split(200, "test", 2, 1, 20, g2, pad=0, shared_below=64)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_dev_and_test_sets_of_existing_run_folders_are_unchanged():
    """Golden values from the task samplers before they were merged into one."""
    b = reverse.fixed_set(reverse.DataConfig(), "dev", 1000)
    rows = [b.src[i, : b.src_len[i]].tolist() for i in range(3)]
    assert rows == [
        [4, 9, 1, 2, 0, 6, 8, 4, 3, 4],
        [9, 1, 4, 7, 5, 5, 0, 4, 7],
        [9, 2, 4, 9, 8, 7, 5],
    ]
    assert b.src_len[:10].tolist() == [10, 9, 7, 2, 6, 9, 4, 9, 3, 4]
    assert int(b.src.sum()) == 68857
    p = parity.fixed_set(parity.DataConfig(), "test", 2000)
    assert p.x[0, : p.lengths[0]].long().tolist() == [0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]
    assert p.lengths[:10].tolist() == [15, 4, 2, 4, 11, 13, 3, 2, 13, 16]
    assert int(p.x.sum()) == 10130
