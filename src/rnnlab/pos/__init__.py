"""Part-of-speech tagging: CoNLL-U reading, a word + character BiLSTM tagger, a CRF."""
