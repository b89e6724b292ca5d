"""The lesson's building blocks: cells, layers, attention, seq2seq, decoding, the CRF.

Stable API (see docs/api.md for one runnable example each)::

    RNNCell, GRUCell, LSTMCell           one time step, torch.nn parameter names
    RNN, GRU, LSTM, make_rnn             layers over time; lengths= for padded batches
    length_mask                          (B, T) True at real steps
    AdditiveAttention, DotAttention, GeneralAttention, LocationAttention, make_attention
    Seq2Seq                              encoder/decoder (attention: none, additive, dot,
                                         general, location)
    greedy, beam_search, Decoded, Hypothesis
    CRF                                  linear-chain CRF: nll, viterbi
    Vocab, tokenize, pad_batch
"""

from rnnlab.nn.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    LocationAttention,
    make_attention,
)
from rnnlab.nn.cells import GRUCell, LSTMCell, RNNCell
from rnnlab.nn.crf import CRF
from rnnlab.nn.decoding import Decoded, Hypothesis, beam_search, greedy
from rnnlab.nn.layers import GRU, LSTM, RNN, length_mask, make_rnn
from rnnlab.nn.seq2seq import Seq2Seq
from rnnlab.nn.vocab import Vocab, pad_batch, tokenize

__all__ = [
    "CRF",
    "GRU",
    "LSTM",
    "RNN",
    "AdditiveAttention",
    "Decoded",
    "DotAttention",
    "GRUCell",
    "GeneralAttention",
    "Hypothesis",
    "LSTMCell",
    "LocationAttention",
    "RNNCell",
    "Seq2Seq",
    "Vocab",
    "beam_search",
    "greedy",
    "length_mask",
    "make_attention",
    "make_rnn",
    "pad_batch",
    "tokenize",
]
