"""Seeded generator of texts that exercise every rule of VADER (not a test module).

Texts are built from VADER's own vocabulary (lexicon words and emoticons, boosters, negations,
"but", "least", "no ... or", "never so", "without doubt", special-case and idiom phrases),
dressed with case changes (ALL CAPS, Title, mixed), punctuation glued to tokens (including
tokens that strip to two characters or fewer), `!`/`?` runs, emoji (single code points,
variation selectors, skin tones, ZWJ sequences, emoji glued to words), odd whitespace and
unicode that lowercases unusually (final sigma, dotted I, Kelvin sign). Values that collide
after the "but" rule's x0.5 / x1.5 scaling are over-represented, because the reference rescales
the *first* equal value.
"""

from __future__ import annotations

import random
import string

from vaderSentiment import vaderSentiment as vader

_ANALYZER = vader.SentimentIntensityAnalyzer()
LEXICON = sorted(_ANALYZER.lexicon)
EMOJI = sorted(_ANALYZER.emojis)
BOOSTERS = sorted(vader.BOOSTER_DICT)
NEGATIONS = [*vader.NEGATE, "isn't", "DON'T", "ain't", "wouldn't", "xn't", "n't"]
PHRASES = [*vader.SPECIAL_CASES, *vader.SENTIMENT_LADEN_IDIOMS, "kind of", "sort of"]
RULE_WORDS = [
    "but", "BUT", "But", "least", "at", "very", "no", "No", "NO", "or", "nor", "never", "so",
    "this", "without", "doubt", "kind", "of", "sort", "just", "enough", "the", "a", "it", "is",
    "was", "movie", "i", "you", "and", "not", "not",
]  # fmt: skip
FILLER = [
    "the", "a", "an", "it", "is", "was", "of", "to", "in", "movie", "film", "plot", "i", "you",
    "we", "they", "and", "with", "for", "on", "day",
]  # fmt: skip
UNICODE = [
    "ΟΔΟΣ", "ΣΑΣ", "Σ", "σς", "İstanbul", "İ", "straße", "STRASSE", "\u212akelvin", "ǅemal",
    "café", "naïve", "日本語", "テスト", "مرحبا", "ϒ", "ﬁne", "Ａ", "ｇｏｏｄ", "\u0130yi",
    "good\u0301", "\u00c0", "ß", "ǈ",
]  # fmt: skip
WHITESPACE = [" ", " ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "\x0b"]
SKIN_TONES = ["\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff"]
VARIATION = ["\ufe0f", "\ufe0e", "\u200d"]


def _collision_pool() -> list[str]:
    """Lexicon words whose values are equal or x0.5 / x1.5 / x2 of each other."""
    by_value: dict[float, list[str]] = {}
    for word, value in _ANALYZER.lexicon.items():
        if word == word.lower():
            by_value.setdefault(value, []).append(word)
    pool = []
    for value, words in sorted(by_value.items()):
        for factor in (0.5, 1.5, 2.0, 2 / 3):
            if value * factor in by_value:
                pool += words[:3] + by_value[value * factor][:3]
    return sorted(set(pool))


COLLIDING = _collision_pool()


class TextGen:
    """`TextGen(seed).text()` returns one random text; the same seed gives the same texts."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def _case(self, word: str) -> str:
        x = self.r.random()
        if x < 0.70:
            return word
        if x < 0.85:
            return word.upper()
        if x < 0.93:
            return word.title()
        return "".join(c.upper() if self.r.random() < 0.5 else c for c in word)

    def _punct(self, word: str) -> str:
        r = self.r
        x = r.random()
        if x < 0.75:
            return word
        if x < 0.87:
            return word + "".join(r.choices(".,;:!?)'\"", k=r.randint(1, 3)))
        if x < 0.95:
            return "".join(r.choices("(\"'#@*", k=r.randint(1, 2))) + word
        return r.choice(string.punctuation) + word + r.choice(string.punctuation)

    def _emoji(self) -> str:
        r = self.r
        e = r.choice(EMOJI)
        x = r.random()
        if x < 0.15:
            e += r.choice(VARIATION)
        elif x < 0.25:
            e += r.choice(SKIN_TONES)
        elif x < 0.30:
            e = r.choice(SKIN_TONES)
        elif x < 0.35:
            e += "\u200d" + r.choice(EMOJI)
        return e

    def token(self) -> str:
        r = self.r
        x = r.random()
        if x < 0.30:
            word = r.choice(LEXICON)
        elif x < 0.38:
            word = r.choice(COLLIDING)
        elif x < 0.46:
            word = r.choice(BOOSTERS)
        elif x < 0.52:
            word = r.choice(NEGATIONS)
        elif x < 0.64:
            word = r.choice(RULE_WORDS)
        elif x < 0.68:
            word = r.choice(PHRASES)
        elif x < 0.80:
            word = r.choice(FILLER)
        elif x < 0.86:
            return self._emoji()
        elif x < 0.90:
            word = r.choice(UNICODE)
        elif x < 0.94:
            return r.choice(["!", "?", "!!", "??", "?!", "!!!!!", "???", "????", ".", "...", "-"])
        elif x < 0.97:
            word = r.choice(LEXICON) + self._emoji()  # glued: no space before the description
        else:
            word = str(r.randint(0, 10**6))
        return self._punct(self._case(word))

    def text(self, max_tokens: int = 24) -> str:
        r = self.r
        x = r.random()
        if x < 0.01:
            return ""
        if x < 0.02:
            return "".join(r.choices(WHITESPACE, k=r.randint(1, 4)))
        n = r.randint(1, max_tokens)
        parts = [self.token() for _ in range(n)]
        out = parts[0]
        for p in parts[1:]:
            out += (r.choice(WHITESPACE) if r.random() < 0.1 else " ") + p
        if r.random() < 0.2:
            out += r.choice(["!", "!!", "!!!!!!", "?", "??", "???", "?????", "!?", ""])
        if r.random() < 0.05:
            out = r.choice(WHITESPACE) + out + r.choice(WHITESPACE)
        return out


def generated(seed: int, count: int, max_tokens: int = 24) -> list[str]:
    gen = TextGen(seed)
    return [gen.text(max_tokens) for _ in range(count)]
