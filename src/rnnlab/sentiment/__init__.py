"""Sentence sentiment on MR: loaders and folds (``data``), the classifier and the language
model whose weights can initialise it (``model``)."""
