"""Encoder/decoder: shapes, teacher forcing vs step-by-step, padding, greedy, training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlab.nn.decoding import beam_search
from rnnlab.nn.seq2seq import Decoder, Encoder, Seq2Seq

V, PAD, BOS, EOS = 9, 6, 7, 8  # tokens 0..5

VARIANTS = [
    dict(cell="gru"),
    dict(cell="lstm"),
    dict(cell="gru", attention="dot"),
    dict(cell="lstm", attention="general", bidirectional=True),
    dict(cell="gru", attention="additive", input_feeding=True),
    dict(cell="rnn", attention="additive", num_layers=2, bidirectional=True),
]


def _model(**kw) -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(V, PAD, BOS, EOS, embed=5, hidden=8, **kw)


def _batch():
    g = torch.Generator().manual_seed(1)
    src = torch.randint(0, 6, (3, 5), generator=g)
    src_len = torch.tensor([5, 3, 1])
    src[1, 3:] = PAD
    src[2, 1:] = PAD
    tgt_in = torch.cat([torch.full((3, 1), BOS), torch.randint(0, 6, (3, 4), generator=g)], 1)
    tgt_out = torch.cat([tgt_in[:, 1:], torch.full((3, 1), EOS)], 1)
    tgt_out[2, 2:] = PAD  # a shorter target
    return src, src_len, tgt_in, tgt_out


def _name(kw: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("kw", VARIANTS, ids=_name)
def test_shapes(kw: dict) -> None:
    model = _model(**kw)
    src, src_len, tgt_in, _ = _batch()
    logits, weights = model(src, src_len, tgt_in)
    assert logits.shape == (3, 5, V)
    if "attention" in kw:
        assert weights is not None and weights.shape == (3, 5, 5)
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 5))
        assert bool((weights[1, :, 3:] == 0).all()) and bool((weights[2, :, 1:] == 0).all())
    else:
        assert weights is None


@pytest.mark.parametrize("kw", VARIANTS, ids=_name)
def test_teacher_forced_loss_equals_step_by_step_loss(kw: dict) -> None:
    """The one-call decoder and the step loop compute the same thing."""
    model = _model(**kw)
    src, src_len, tgt_in, tgt_out = _batch()
    loss = model.loss(src, src_len, tgt_in, tgt_out)
    st = model.start(src, src_len)
    steps = []
    for t in range(tgt_in.shape[1]):
        logits, st = model.step(tgt_in[:, t], st)
        steps.append(logits)
    flat = torch.stack(steps, 1).reshape(-1, V)
    ref = F.cross_entropy(flat, tgt_out.reshape(-1), ignore_index=PAD)
    torch.testing.assert_close(loss, ref)


def test_plain_decoder_runs_in_one_layer_call() -> None:
    model = _model(cell="gru")
    calls = []
    model.decoder.rnn.register_forward_hook(lambda *a: calls.append(1))
    src, src_len, tgt_in, _ = _batch()
    model(src, src_len, tgt_in)
    assert len(calls) == 1
    assert _model(cell="gru", attention="dot").decoder.parallel
    assert not _model(cell="gru", attention="dot", input_feeding=True).decoder.parallel


@pytest.mark.parametrize("kw", VARIANTS, ids=_name)
def test_source_padding_changes_nothing(kw: dict) -> None:
    model = _model(**kw)
    src, src_len, tgt_in, _ = _batch()
    wide = torch.cat([src, torch.full((3, 4), PAD)], 1)  # 4 more padding columns
    a, wa = model(src, src_len, tgt_in)
    b, wb = model(wide, src_len, tgt_in)
    torch.testing.assert_close(a, b)
    if wa is not None and wb is not None:
        torch.testing.assert_close(wa, wb[..., :5])
    # each sequence alone (no padding at all) gives the same logits
    for i in range(3):
        n = int(src_len[i])
        alone, _ = model(src[i : i + 1, :n], src_len[i : i + 1], tgt_in[i : i + 1])
        torch.testing.assert_close(alone[0], a[i])


def test_bidirectional_final_state_holds_both_directions() -> None:
    torch.manual_seed(0)
    enc = Encoder(V, 5, 8, cell="gru", bidirectional=True, pad_id=PAD)
    src, src_len, _, _ = _batch()
    memory, h = enc(src, src_len)
    assert memory.shape == (3, 5, 8) and isinstance(h, torch.Tensor) and h.shape == (1, 3, 8)
    for i, n in enumerate(src_len.tolist()):
        torch.testing.assert_close(h[0, i, :4], memory[i, n - 1, :4])  # forward: last step
        torch.testing.assert_close(h[0, i, 4:], memory[i, 0, 4:])  # backward: first step


@pytest.mark.parametrize("kw", VARIANTS, ids=_name)
def test_greedy_takes_the_argmax_of_its_own_prefix(kw: dict) -> None:
    model = _model(**kw)
    src, src_len, _, _ = _batch()
    out = model.greedy(src, src_len, max_len=6)
    assert out.tokens.shape[0] == 3 and out.tokens.shape[1] <= 6
    tgt_in = torch.cat([torch.full((3, 1), BOS), out.tokens[:, :-1]], 1)
    tgt_in = tgt_in.masked_fill(tgt_in == EOS, PAD)
    logits, weights = model(src, src_len, tgt_in)
    for i in range(3):
        n = min(int(out.lengths[i]) + 1, out.tokens.shape[1])  # tokens and the EOS
        assert logits[i, :n].argmax(-1).tolist() == out.tokens[i, :n].tolist()
        if weights is not None:
            assert out.weights is not None
            torch.testing.assert_close(out.weights[i, :n], weights[i, :n])
    assert (out.weights is None) == ("attention" not in kw)


def test_greedy_stops_at_eos_and_pads_after() -> None:
    model = _model(cell="gru")
    with torch.no_grad():  # make EOS always the best token
        model.decoder.out.bias.fill_(-10.0)
        model.decoder.out.bias[EOS] = 10.0
    out = model.greedy(*_batch()[:2], max_len=10)
    assert out.tokens.tolist() == [[EOS]] * 3
    assert out.lengths.tolist() == [0, 0, 0] and bool(out.finished.all())


def test_beam_of_one_is_greedy() -> None:
    model = _model(cell="gru", attention="additive")
    src, src_len, _, _ = _batch()
    out = model.greedy(src, src_len, max_len=6)
    for i in range(3):
        n = int(src_len[i])
        st = model.start(src[i : i + 1, :n], src_len[i : i + 1])
        with torch.no_grad():
            best = beam_search(model.log_prob_step, st, BOS, EOS, beam=1, max_len=6)[0]
        assert best.tokens == out.tokens[i, : int(out.lengths[i])].tolist()


@pytest.mark.parametrize("kw", VARIANTS[:3], ids=_name)
def test_a_training_step_changes_every_parameter(kw: dict) -> None:
    model = _model(**kw)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = model.loss(*_batch())
    loss.backward()
    opt.step()
    unchanged = [k for k, v in model.named_parameters() if torch.equal(v, before[k])]
    assert unchanged == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="input feeding needs attention"):
        Decoder(V, 5, 8, input_feeding=True)
    with pytest.raises(ValueError, match="cell expects"):
        _model(cell="transformer")
    with pytest.raises(ValueError, match="even hidden size"):
        Seq2Seq(V, PAD, BOS, EOS, hidden=7, bidirectional=True)
    model = _model(cell="gru")
    with pytest.raises(ValueError, match="at least one token"):
        model.greedy(torch.full((1, 3), PAD), torch.tensor([0]), max_len=3)
