"""The lesson's building blocks: cells, layers, attention, seq2seq, decoding, the CRF."""
