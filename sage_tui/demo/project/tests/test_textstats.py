import unittest

from textstats import top_words, word_count


class TextStatsTest(unittest.TestCase):
    def test_word_count(self):
        self.assertEqual(word_count("the cat sat on the mat"), 6)

    def test_top_words(self):
        self.assertEqual(top_words("a b a c a b", 2), ["a", "b"])


if __name__ == "__main__":
    unittest.main()
