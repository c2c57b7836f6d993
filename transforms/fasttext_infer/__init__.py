"""fastText's supervised prediction over a whole text column at once, from the model file.

The C++ binding predicts one line per call, holding the GIL, and spends most of that call
rebuilding the same words' character n-grams in every document. Here the model file is read
into numpy arrays (``model``), each distinct token of a batch is turned into its summed input
rows once (``subwords``), and every document's hidden vector and its best label through the
hierarchical softmax are array operations (``predict``). The binding stays the reference:
tests compare every label and score with it, and documents whose label or score sit too
close to a tie for double and single precision to agree are scored by it.
"""
