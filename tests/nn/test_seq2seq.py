"""Encoder/decoder: shapes, teacher forcing vs step-by-step, padding, greedy, training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlab.nn import decoding
from rnnlab.nn.attention import LocationAttention
from rnnlab.nn.seq2seq import Decoder, Encoder, Seq2Seq, Spec
from rnnlab.nn.vocab import Vocab

V, PAD, BOS, EOS = 9, 6, 7, 8  # tokens 0..5

VARIANTS = [
    dict(cell="gru"),
    dict(cell="lstm"),
    dict(cell="gru", attention="dot"),
    dict(cell="lstm", attention="general", bidirectional=True),
    dict(cell="gru", attention="additive", input_feeding=True),
    dict(cell="rnn", attention="additive", num_layers=2, bidirectional=True),
    dict(cell="gru", attention="location", input_feeding="context"),
    dict(cell="lstm", attention="location", num_layers=2),
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
    if kw.get("attention", "none") != "none":
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
    enc = Encoder(Spec(V, 5, 8, cell="gru", pad_id=PAD), bidirectional=True)
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
    assert isinstance(out, decoding.Decoded)  # the same kind of thing as decoding.greedy


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
    best = model.beam(src, src_len, beam=1, max_len=6)
    for i in range(3):
        assert best[i][0].tokens == out.tokens[i, : int(out.lengths[i])].tolist()
        assert best[i][0].logp == pytest.approx(float(out.logp[i]), abs=1e-5)


@pytest.mark.parametrize("kw", [dict(cell="gru"), dict(cell="lstm", attention="dot")], ids=_name)
def test_greedy_equals_a_loop_written_here(kw: dict) -> None:
    """The argmax loop by hand, on the decoder's own step: same tokens, EOS then PAD."""
    model = _model(**kw)
    src, src_len, _, _ = _batch()
    out = model.greedy(src, src_len, max_len=6)
    for i in range(3):
        n = int(src_len[i])
        st = model.start(src[i : i + 1, :n], src_len[i : i + 1])
        tok, seq = torch.tensor([BOS]), []
        with torch.no_grad():
            for _ in range(6):
                logits, st = model.step(tok, st)
                tok = logits.argmax(-1)
                seq.append(int(tok))
                if int(tok) == EOS:
                    break
        row = out.tokens[i].tolist()
        assert row[: len(seq)] == seq and all(t == PAD for t in row[len(seq) :])


def test_attention_none_is_no_attention() -> None:
    for spelled in ("none", None):
        model = _model(cell="gru", attention=spelled)
        assert model.decoder.attention is None and model.decoder.parallel
    names = {k for k in _model(cell="gru", attention="none").state_dict()}
    assert names == {k for k in _model(cell="gru").state_dict()}
    with pytest.raises(ValueError, match="attention expects one of none, additive"):
        _model(cell="gru", attention="nonsense")


def test_location_attention_decoder_is_fed_its_last_read() -> None:
    model = _model(cell="gru", attention="location", input_feeding="context")
    assert isinstance(model.decoder.attention, LocationAttention) and not model.decoder.parallel
    assert model.decoder.rnn.input_size == 5 + 8  # embedding + the read (memory) vector
    src, src_len, _, _ = _batch()
    st = model.start(src, src_len)
    assert torch.equal(st["weights"][:, 0], torch.ones(3))  # the read starts on symbol 0
    _, st = model.step(torch.full((3,), BOS), st)
    memory = model.encode(src, src_len)[0]
    read = torch.bmm(st["weights"].unsqueeze(1), memory).squeeze(1)  # (B, H)
    torch.testing.assert_close(st["feed"], read)


def test_from_vocab_takes_the_special_ids() -> None:
    vocab = Vocab(["<pad>", "<s>", "</s>", "a", "b"])
    model = Seq2Seq.from_vocab(vocab, embed=4, hidden=6, attention="dot")
    assert (model.vocab_size, model.pad_id, model.bos_id, model.eos_id) == (5, 0, 1, 2)
    assert model.decoder.embedding.padding_idx == 0
    with pytest.raises(ValueError, match="end-of-sequence"):
        Seq2Seq.from_vocab(Vocab(["<pad>", "<s>", "a"]))


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
        Decoder(Spec(V, 5, 8), input_feeding=True)
    with pytest.raises(ValueError, match="cell expects"):
        _model(cell="transformer")
    with pytest.raises(ValueError, match="even hidden size"):
        Seq2Seq(V, PAD, BOS, EOS, hidden=7, bidirectional=True)
    model = _model(cell="gru")
    with pytest.raises(ValueError, match="at least one token"):
        model.greedy(torch.full((1, 3), PAD), torch.tensor([0]), max_len=3)
