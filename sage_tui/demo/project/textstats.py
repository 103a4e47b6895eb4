"""Word statistics for plain text."""

from collections import Counter


def words(text):
    """The words of `text`, lower-cased, punctuation stripped."""
    return [w.strip(".,;:!?\"'()").lower() for w in text.split() if w.strip(".,;:!?\"'()")]


def word_count(text):
    """How many words `text` has."""
    return len(text)


def top_words(text, n=3):
    """The `n` most common words, most common first."""
    return [word for word, _ in Counter(words(text)).most_common(n)]
