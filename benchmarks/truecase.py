"""What restoring Plan-and-Write's casing costs: word casing accuracy on held-out cased stories.

The truecaser is learned from Story Cloze val minus its last 300 stories; those 300 are
lower-cased and restored, and each word's casing compared with the original.

    python benchmarks/truecase.py [--held-out 300]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.training.text import Truecaser, read_cloze_val  # noqa: E402

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held-out", type=int, default=300)
    args = parser.parse_args()
    stories = read_cloze_val()
    learn, held = stories[: -args.held_out], stories[-args.held_out :]
    caser = Truecaser.learn(s for story in learn for s in story.sentences)
    right = total = wrong_names = 0
    examples = []
    for story in held:
        restored = caser.restore_story([s.lower() for s in story.sentences])
        for gold, got in zip(story.sentences, restored, strict=True):
            a, b = WORD.findall(gold), WORD.findall(got)
            for x, y in zip(a, b, strict=True):
                right += x == y
                total += 1
                if x != y and x[:1].isupper():
                    wrong_names += 1
                    if len(examples) < 8:
                        examples.append(f"{x} -> {y}")
    plain = caser.word_accuracy(s for story in held for s in story.sentences)
    print(f"held-out stories: {len(held)}, words: {total}")
    print(f"word casing accuracy, story-aware (names from sentence starts): {right / total:.4f}")
    print(f"word casing accuracy, sentence by sentence: {plain:.4f}")
    print(f"capitalised words left lower-case: {wrong_names} ({wrong_names / total:.2%} of words), e.g. {', '.join(examples)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
