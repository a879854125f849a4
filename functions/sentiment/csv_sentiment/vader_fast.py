"""A faster, bit-identical execution of vaderSentiment 3.3.2's `polarity_scores`.

The model is theirs: the lexicons are read from the installed `vaderSentiment` package and the
constants (boosters, negations, special cases, scalars) are its module attributes. Only the
execution is ours: every rule mirrors one in `SentimentIntensityAnalyzer`, applied in the same
order to values of the same types, so the four results are equal (and print the same). The
tests in tests/engine prove it on ~270,000 texts; docs/engine.md argues each shortcut:

- A token's lowered, punctuation-stripped word is memoised per token instead of recomputed for
  the whole text at each sentiment word: that removes the reference's quadratic cost (#110).
- Only lexicon words can carry a non-zero sentiment, so the rules run for those words only;
  every other word is a zero that changes neither `sum()` nor `pos`/`neg`, so it is counted.
- `sum()` is still the builtin, over the non-zero sentiments in their order and types (an int
  from SPECIAL_CASES stays an int), so Python 3.12's compensated summation, which does not
  compensate int items, is reproduced on any version.
- The "but" rule's `sentiments.index(value)` quirk (it rescales the *first* equal value) is
  replayed on the non-zero values; with many of them, a heap per value keeps it O(n log n).
"""

from __future__ import annotations

import math
import os
import re
import string
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from itertools import compress, count, pairwise

from vaderSentiment import vaderSentiment as _vader

Scores = tuple[float, float, float, float]  # neg, neu, pos, compound

# Tokens longer than this are not memoised, so one hostile cell cannot pin megabytes.
_MEMO_TOKEN_CHARS = 64
_MEMO_ENTRIES = 200_000  # per memo, ~13 MB at most; a full memo is cleared
# Below this many non-zero sentiments, replaying list.index directly is cheapest.
_BUT_DIRECT_MAX = 32


def _read(name: str) -> str:
    # newline="" keeps the bytes as the reference's codecs.open reads them (no translation).
    with open(
        os.path.join(os.path.dirname(_vader.__file__), name), encoding="utf-8", newline=""
    ) as f:
        return f.read()


def load_lexicons() -> tuple[dict[str, float], dict[str, str]]:
    """The word and emoji lexicons, parsed exactly as `make_lex_dict`/`make_emoji_dict` do."""
    lexicon: dict[str, float] = {}
    for line in _read("vader_lexicon.txt").rstrip("\n").split("\n"):
        if line:
            word, measure = line.strip().split("\t")[0:2]
            lexicon[word] = float(measure)
    emojis: dict[str, str] = {}
    for line in _read("emoji_utf8_lexicon.txt").rstrip("\n").split("\n"):
        emoji, description = line.strip().split("\t")[0:2]
        emojis[emoji] = description
    return lexicon, emojis


def _word(token: str) -> str:
    """The reference's `_strip_punc_if_word(token).lower()`."""
    stripped = token.strip(string.punctuation)
    return (stripped if len(stripped) > 2 else token).lower()


class _Memo(dict):
    """token -> compute(token), memoised and bounded.

    `map(memo.__getitem__, tokens)` runs in C for known tokens; `__missing__` fills the rest.
    Long tokens are not kept, and the memo is emptied when full."""

    __slots__ = ("_compute",)

    def __init__(self, compute: Callable[[str], object]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, token: str):
        value = self._compute(token)
        if len(token) <= _MEMO_TOKEN_CHARS:
            if len(self) >= _MEMO_ENTRIES:
                self.clear()
            self[token] = value
        return value


def make_polarity() -> Callable[[str], Scores]:
    """Build the per-text scoring function: (neg, neu, pos, compound) for one text."""
    lex, emojis = load_lexicons()
    booster = _vader.BOOSTER_DICT
    special = _vader.SPECIAL_CASES
    negate = frozenset(_vader.NEGATE)
    n_scalar = _vader.N_SCALAR
    c_incr = _vader.C_INCR
    # A word can start a sentiment only if it is a lexicon word that is not a booster.
    starts = frozenset(w for w in lex if w not in booster)
    # word -> the words that follow it in a multi-word SPECIAL_CASES or BOOSTER_DICT key. A
    # phrase of the idiom check can only match if its first two words are such a pair (tokens
    # never contain whitespace), so most sentiment words skip building the phrases.
    pairs: dict[str, set[str]] = {}
    for key in (*special, *booster):
        parts = key.split(" ")
        for a, b in pairwise(parts):
            pairs.setdefault(a, set()).add(b)
    follows = {a: frozenset(b) for a, b in pairs.items()}.get
    nothing: frozenset[str] = frozenset()
    least_rule = "least" not in lex
    # The punctuation amplifier by (min(count("!"), 4), count("?") capped at 4), computed with
    # the reference's own expressions and types.
    punct = [
        [ep * 0.292 + (0 if qm <= 1 else qm * 0.18 if qm <= 3 else 0.96) for qm in range(5)]
        for ep in range(5)
    ]

    def _mark(token: str) -> str:
        w = _word(token)
        return w if w in starts or w == "but" else ""

    # token -> its word if it can carry a sentiment or is "but", else "": `compress` then
    # finds the few words that the rules have to look at.
    mark = _Memo(_mark).__getitem__
    # Words that some rule looks for before or after a sentiment word. Every other word acts
    # in every rule exactly like "" (not in any dict, equal to no rule word, no "n't", and a
    # phrase with an empty word matches no key), so `near` maps it to "" and a sentiment word
    # whose three predecessors are all "" skips the rules at once.
    rule_words = {"no", "or", "nor", "never", "so", "this", "without", "doubt", "least", "at"}
    relevant = frozenset({*lex, *booster, *negate, *rule_words, "very", "of"})
    relevant |= frozenset(pairs).union(*pairs.values())
    if "" in relevant or "" in special:
        raise ValueError("an empty word in the vaderSentiment lexicons: vader_fast needs review")

    def _near(token: str) -> str:
        w = _word(token)
        return w if w in relevant or "n't" in w else ""

    near = _Memo(_near).__getitem__
    isupper = str.isupper
    fabs = math.fabs
    sqrt = math.sqrt

    # The reference tests one character at a time, so only one-character keys can match.
    # A regex class of thousands of astral code points is scanned linearly by `re`, so the
    # pattern is a few covering ranges and the replacement checks the dict.
    single = {e: d for e, d in emojis.items() if len(e) == 1}
    if any(e.isascii() for e in single):  # ASCII texts skip the emoji pass
        raise ValueError("an ASCII emoji in the vaderSentiment lexicons: vader_fast needs review")
    no_emoji = frozenset(single).isdisjoint
    ranges: list[list[int]] = []
    for cp in sorted(map(ord, single)):
        if ranges and cp - ranges[-1][1] <= 64:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    emoji_sub = re.compile(
        "[" + "".join(re.escape(chr(a)) + "-" + re.escape(chr(b)) for a, b in ranges) + "]"
    ).sub
    emoji_get = single.get

    def emoji_text(m: re.Match) -> str:
        c = m.group()
        description = emoji_get(c)
        if description is None:
            return c
        # The reference puts a space before a description unless the previous char is " ".
        i = m.start()
        return " " + description if i and m.string[i - 1] != " " else description

    neutral = (0.0, 1.0, 0.0, 0.0)
    empty = (0.0, 0.0, 0.0, 0.0)

    def polarity(text: str) -> Scores:
        if not text.isascii() and not no_emoji(text):  # no emoji key is ASCII
            text = emoji_sub(emoji_text, text)
        tokens = text.split()  # the reference strips first; split() ignores the same whitespace
        if not tokens:
            return empty
        marks = list(compress(count(), map(mark, tokens)))
        if not marks:
            return neutral
        n = len(tokens)
        last = n - 1
        cap_diff = None  # allcap_differential, computed when an ALL CAPS word needs it
        but_at = -1
        vals = []  # the non-zero sentiments, in order
        where = []  # their word positions
        for i in marks:
            tok = tokens[i]
            w = mark(tok)
            if w == "but" and but_at < 0:
                but_at = i
            if w not in starts or (w == "kind" and i < last and near(tokens[i + 1]) == "of"):
                continue
            v = lex[w]
            if w == "no" and i != last and near(tokens[i + 1]) in lex:
                v = 0.0
            plain = True  # no rule word among the three preceding words
            if i:
                w1 = near(tokens[i - 1])
                w2 = near(tokens[i - 2]) if i > 1 else ""
                w3 = near(tokens[i - 3]) if i > 2 else ""
                if w1 or w2 or w3:
                    plain = False
                    if w1 == "no" or w2 == "no" or (w3 == "no" and (w1 == "or" or w1 == "nor")):
                        v = lex[w] * n_scalar
            if isupper(tok):
                if cap_diff is None:
                    cap_diff = 0 < sum(map(isupper, tokens)) < n
                if cap_diff:
                    v = v + c_incr if v > 0 else v - c_incr
            if plain:
                # Of all the rules, only a phrase starting with this word can still apply.
                if i > 2 and i < last and near(tokens[i + 1]) in follows(w, nothing):
                    v = _idioms(v, w, w1, w2, w3, tokens, near, i, last, special, booster)
                if v:
                    vals.append(v)
                    where.append(i)
                continue
            # The three preceding words, nearest first (the reference's start_i 0, 1, 2).
            if w1 not in lex:
                if w1 in booster:  # scalar_inc_dec; a zero scalar leaves v unchanged
                    up = isupper(tokens[i - 1])
                    if up and cap_diff is None:
                        cap_diff = 0 < sum(map(isupper, tokens)) < n
                    v = v + _scalar(booster[w1], v, up and cap_diff, c_incr)
                if w1 in negate or "n't" in w1:
                    v = v * n_scalar
            if i > 1:
                if w2 not in lex:
                    if w2 in booster:
                        up = isupper(tokens[i - 2])
                        if up and cap_diff is None:
                            cap_diff = 0 < sum(map(isupper, tokens)) < n
                        s = _scalar(booster[w2], v, up and cap_diff, c_incr)
                        if s != 0:
                            s = s * 0.95
                        v = v + s
                    if w2 == "never" and (w1 == "so" or w1 == "this"):
                        v = v * 1.25
                    elif w2 == "without" and w1 == "doubt":
                        pass
                    elif w2 in negate or "n't" in w2:
                        v = v * n_scalar
                if i > 2 and w3 not in lex:
                    if w3 in booster:
                        up = isupper(tokens[i - 3])
                        if up and cap_diff is None:
                            cap_diff = 0 < sum(map(isupper, tokens)) < n
                        s = _scalar(booster[w3], v, up and cap_diff, c_incr)
                        if s != 0:
                            s = s * 0.9
                        v = v + s
                    if (w3 == "never" and (w2 == "so" or w2 == "this")) or (
                        w1 == "so" or w1 == "this"
                    ):
                        v = v * 1.25
                    elif w3 == "without" and (w2 == "doubt" or w1 == "doubt"):
                        pass
                    elif w3 in negate or "n't" in w3:
                        v = v * n_scalar
                    if (
                        w2 in follows(w3, nothing)
                        or w1 in follows(w2, nothing)
                        or w in follows(w1, nothing)
                        or (i < last and near(tokens[i + 1]) in follows(w, nothing))
                    ):
                        v = _idioms(v, w, w1, w2, w3, tokens, near, i, last, special, booster)
            if least_rule and w1 == "least":  # _least_check
                if i > 1:
                    if w2 != "at" and w2 != "very":
                        v = v * n_scalar
                else:
                    v = v * n_scalar
            if v:
                vals.append(v)
                where.append(i)
        if not vals:
            return neutral
        if but_at >= 0:
            _but(vals, where, but_at)
        sum_s = float(sum(vals))
        ep = text.count("!")
        qm = text.count("?")
        amp = punct[ep if ep < 4 else 4][qm if qm < 4 else 4]
        if sum_s > 0:
            sum_s += amp
        elif sum_s < 0:
            sum_s -= amp
        compound = sum_s / sqrt((sum_s * sum_s) + 15)
        if compound < -1.0:
            compound = -1.0
        elif compound > 1.0:
            compound = 1.0
        pos_sum = 0.0
        neg_sum = 0.0
        for s in vals:
            if s > 0:
                pos_sum += float(s) + 1
            else:
                neg_sum += float(s) - 1
        neu_count = n - len(vals)
        if pos_sum > fabs(neg_sum):
            pos_sum += amp
        elif pos_sum < fabs(neg_sum):
            neg_sum -= amp
        total = pos_sum + fabs(neg_sum) + neu_count
        return (
            round(fabs(neg_sum / total), 3),
            round(fabs(neu_count / total), 3),
            round(fabs(pos_sum / total), 3),
            round(compound, 4),
        )

    return polarity


def _scalar(s: float, v: float, caps: bool, c_incr: float) -> float:
    """`scalar_inc_dec` for a booster word of value `s` before a word of valence `v`."""
    if v < 0:
        s *= -1
    if caps:  # the booster is ALL CAPS among words that are not
        s = s + c_incr if v > 0 else s - c_incr
    return s


def _idioms(v, w0, w1, w2, w3, tokens, word, i: int, last: int, special: dict, booster: dict):
    """`_special_idioms_check`, on lowered words (w1 precedes w0, the sentiment word)."""
    twoone = f"{w2} {w1}"
    threetwoone = f"{w3} {w2} {w1}"
    threetwo = f"{w3} {w2}"
    for seq in (f"{w1} {w0}", f"{w2} {w1} {w0}", twoone, threetwoone, threetwo):
        if seq in special:
            v = special[seq]
            break
    if last > i:
        next1 = word(tokens[i + 1])
        seq = f"{w0} {next1}"
        if seq in special:
            v = special[seq]
        if last > i + 1:
            seq = f"{w0} {next1} {word(tokens[i + 2])}"
            if seq in special:
                v = special[seq]
    for seq in (threetwoone, threetwo, twoone):
        if seq in booster:
            v = v + booster[seq]
    return v


def _but(vals: list, where: list[int], but_at: int) -> None:
    """`_but_check` on the non-zero sentiments: for each value in turn, the *first* equal value
    (`sentiments.index`) is halved before "but" and scaled by 1.5 after it. Zeros stay zeros and
    never equal a non-zero value, so they cannot change which value is first."""
    if len(vals) <= _BUT_DIRECT_MAX:
        for v in vals:  # like the reference, iterates the list it rewrites in place
            si = vals.index(v)
            if where[si] < but_at:
                vals[si] = v * 0.5
            elif where[si] > but_at:
                vals[si] = v * 1.5
        return
    firsts: dict = {}  # value -> min-heap of the indices (<= k) now holding an equal value
    for k, v in enumerate(vals):
        heap = firsts.get(v)
        if heap is None:
            firsts[v] = heap = [k]
        else:
            heap.append(k)  # k is the largest index so far: the heap stays a heap
        si = heap[0]
        if where[si] < but_at:
            new = v * 0.5
        elif where[si] > but_at:
            new = v * 1.5
        else:
            continue
        vals[si] = new
        heappop(heap)
        if not heap:
            del firsts[v]
        other = firsts.get(new)
        if other is None:
            firsts[new] = [si]
        else:
            heappush(other, si)


class FastScorer:
    """The `fast` engine: same scores as the reference, several times faster, linear time."""

    name = "fast"

    def __init__(self) -> None:
        self.polarity = make_polarity()

    def score(self, texts: Sequence[str]) -> list[Scores]:
        return list(map(self.polarity, texts))
