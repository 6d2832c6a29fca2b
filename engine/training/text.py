"""Story text for training: read the ROCStories files, detokenise and restore casing.

Plan-and-Write lines are lower-cased and Treebank-tokenised ("he did n't go ."); the
generator should learn from text as a writer types it ("He didn't go."). A `Truecaser`
learns each word's usual casing from cased stories (Story Cloze val), then restores
sentence starts, "I", and names. Its cost on held-out cased sentences is measured by
`Truecaser.word_accuracy` (see docs/training.md).
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.paths import shared_file

PLAN_WRITE = ("rocstories", "plan_and_write", "ROCStories_all_merge_tokenize.titlesepkeysepstory.{split}")
CLOZE_VAL = ("rocstories", "story_cloze_2016", "cloze_test_val_spring2016.csv")
ROC_TRAIN = ("rocstories", "train", "Rocstories_train.zip")


@dataclass(frozen=True)
class Story:
    """Five sentences, with one storyline keyword per sentence where the source has them."""

    sentences: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    title: str = ""
    source: str = ""
    phrases: tuple[tuple[str, ...], ...] = ()  # several storyline phrases per sentence (the training file)


# ------------------------------------------------------------------ detokenising

_CONTRACTIONS = re.compile(r" (n't|'s|'re|'ve|'m|'ll|'d|')(?=\W|$)", re.IGNORECASE)
_BEFORE = re.compile(r" ([.,!?;:%)\]}])")
_AFTER = re.compile(r"([(\[{$]) ")


def detokenize(text: str) -> str:
    """Undo Treebank tokenisation: "did n't" -> "didn't", "home ." -> "home."."""
    text = " ".join(text.split())
    text = text.replace("``", '"').replace("''", '"')
    text = _CONTRACTIONS.sub(r"\1", text)
    text = re.sub(r"\bca n't\b", "can't", text)
    text = re.sub(r"\bwo n't\b", "won't", text)
    text = _BEFORE.sub(r"\1", text)
    text = _AFTER.sub(r"\1", text)
    text = re.sub(r'" (.*?) "', r'"\1"', text)
    return text


# ------------------------------------------------------------------ truecasing

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclass
class Truecaser:
    """Per-word majority casing learned from cased text (sentence-initial words ignored)."""

    forms: dict[str, str] = field(default_factory=dict)
    lower: frozenset[str] = frozenset()  # words seen lower-case after a sentence start

    @classmethod
    def learn(cls, sentences: Iterable[str]) -> Truecaser:
        counts: dict[str, Counter] = defaultdict(Counter)
        for sentence in sentences:
            words = _WORD.findall(sentence)
            for word in words[1:]:  # the first word is capitalised whatever it is
                counts[word.lower()][word] += 1
        forms = {}
        for lower, seen in counts.items():
            best, n = seen.most_common(1)[0]
            if best != lower and n >= 2 * seen.get(lower, 0):
                forms[lower] = best
        return cls(forms, frozenset(w for w, seen in counts.items() if seen.get(w)))

    def story_names(self, sentences: Iterable[str]) -> set[str]:
        """Words of a lower-cased story that start a sentence and are never written lower-case: names."""
        starts = {m.group(0) for s in sentences if (m := _WORD.search(s))}
        from engine.keywords import stop_words

        known = self.lower | stop_words()
        return {w for w in starts if w not in known and w not in self.forms and w != "i"}

    def restore_story(self, sentences: Iterable[str]) -> tuple[str, ...]:
        """`restore` on each sentence, with the story's names capitalised wherever they occur."""
        sentences = list(sentences)
        names = self.story_names(sentences)
        return tuple(self.restore(s, names=names) for s in sentences)

    def restore(self, sentence: str, names: set[str] | frozenset[str] = frozenset()) -> str:
        """Casing for one lower-cased sentence: learned forms, "I", `names`, a capital first letter."""

        def fix(match: re.Match) -> str:
            word = match.group(0)
            if word == "i" or word.startswith("i'"):
                return "I" + word[1:]
            if word in names:
                return word.capitalize()
            return self.forms.get(word, word)

        text = _WORD.sub(fix, sentence)
        for i, ch in enumerate(text):
            if ch.isalpha():
                return text[:i] + ch.upper() + text[i + 1 :]
        return text

    def restore_phrase(self, phrase: str, names: set[str] | frozenset[str] = frozenset()) -> str:
        """Casing for a lower-cased keyword phrase: names and learned forms, no capital first letter."""
        return " ".join("I" if w == "i" else w.capitalize() if w in names else self.forms.get(w, w) for w in phrase.split())

    def word_accuracy(self, cased: Iterable[str]) -> float:
        """Share of words whose casing `restore(lower(s))` gets right on cased sentences."""
        right = total = 0
        for sentence in cased:
            gold = _WORD.findall(sentence)
            got = _WORD.findall(self.restore(sentence.lower()))
            right += sum(a == b for a, b in zip(gold, got, strict=False))
            total += len(gold)
        return right / total if total else 0.0


# ------------------------------------------------------------------ readers


def plan_write_path(split: str) -> Path:
    """The Plan-and-Write file of `split` (dev or test) in the shared data sets."""
    first, second, name = PLAN_WRITE
    return shared_file(first, second, name.format(split=split))


def parse_plan_write_line(line: str) -> tuple[str, list[str], list[str]]:
    """`title <EOT> k1 .. k5 <EOL> </s> s1 </s> .. s5` -> (title, keywords, tokenised sentences)."""
    head, _, body = line.partition("<EOL>")
    title, _, keys = head.partition("<EOT>")
    sentences = [s.strip() for s in body.split("</s>") if s.strip()]
    return title.strip(), keys.split(), sentences


def read_plan_write(split: str, *, truecaser: Truecaser, limit: int | None = None) -> list[Story]:
    """Plan-and-Write stories, detokenised and truecased, with their storyline keywords."""
    stories = []
    with plan_write_path(split).open(encoding="utf-8") as handle:
        for line in handle:
            title, keywords, sentences = parse_plan_write_line(line)
            if len(sentences) != 5 or len(keywords) != 5:
                continue
            text = truecaser.restore_story(detokenize(s) for s in sentences)
            stories.append(Story(text, tuple(keywords), title, f"plan_write.{split}"))
            if limit is not None and len(stories) >= limit:
                break
    return stories


def parse_train_line(line: str) -> tuple[str, list[list[str]], list[str]]:
    """`title <EOT> p p # p # .. <EOL> </s> s1 .. </s> s5 @` -> (title, phrases per sentence, sentences).

    Phrases are tab-separated, with `#` between sentences; the line ends with " @ ".
    """
    head, _, body = line.partition("<EOL>")
    title, _, keys = head.partition("<EOT>")
    body = body.strip()
    if body.endswith("@"):
        body = body[:-1]
    groups: list[list[str]] = [[]]
    for phrase in (p.strip() for p in keys.split("\t")):
        if phrase == "#":
            groups.append([])
        elif phrase:
            groups[-1].append(phrase)
    sentences = [s.strip() for s in body.split("</s>") if s.strip()]
    return title.strip(), groups, sentences


def read_rocstories_train(*, truecaser: Truecaser, limit: int | None = None) -> list[Story]:
    """The ROCStories training sample (a 30% sample of Plan-and-Write train), detokenised and
    truecased, with several storyline phrases per sentence (`Story.phrases`).

    Stories whose phrase groups do not line up with their five sentences keep no phrases.
    """
    stories = []
    with zipfile.ZipFile(shared_file(*ROC_TRAIN)) as archive, archive.open(archive.namelist()[0]) as raw:
        for line in (b.decode("utf-8") for b in raw):
            if not line.strip():
                continue
            title, groups, sentences = parse_train_line(line)
            if len(sentences) != 5:
                continue
            plain = [detokenize(s) for s in sentences]
            text = truecaser.restore_story(plain)
            names = truecaser.story_names(plain)
            phrases = tuple(tuple(truecaser.restore_phrase(p, names) for p in g) for g in groups) if len(groups) == 5 else ()
            stories.append(Story(text, (), title, "rocstories.train", phrases))
            if limit is not None and len(stories) >= limit:
                break
    return stories


def read_cloze_val(limit: int | None = None) -> list[Story]:
    """Story Cloze val stories: four given sentences plus the right ending (cased as written)."""
    stories = []
    with shared_file(*CLOZE_VAL).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            ending = row["RandomFifthSentenceQuiz1" if row["AnswerRightEnding"] == "1" else "RandomFifthSentenceQuiz2"]
            sentences = tuple(row[f"InputSentence{i}"].strip() for i in range(1, 5)) + (ending.strip(),)
            stories.append(Story(sentences, (), "", "cloze.val"))
            if limit is not None and len(stories) >= limit:
                break
    return stories


CLOZE_HELD_OUT = 371  # the last Story Cloze val stories: never trained on, kept for the reranker's accuracy


def read_cloze_train(limit: int | None = None) -> list[Story]:
    """Story Cloze val stories that training may read (all but the held-out slice)."""
    stories = read_cloze_val()[:-CLOZE_HELD_OUT]
    return stories if limit is None else stories[:limit]


def default_truecaser() -> Truecaser:
    """A truecaser learned from every Story Cloze val sentence."""
    return Truecaser.learn(s for story in read_cloze_val() for s in story.sentences)
