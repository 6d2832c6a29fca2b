"""Knowledge quality: does a top-5 fact share a content lemma with the gold next sentence?

For 200 Plan-and-Write dev stories and each of sentences 2-5, the storyline keyword
of that sentence retrieves facts (limit 50); the ranker orders them against the
story so far (title + earlier sentences) and keeps 5; a random order of the same
facts is the baseline. A hit: one of the 5 facts shares a content lemma with the
gold sentence, not counting the keyword itself (every retrieved fact contains it).

    python benchmarks/eval_knowledge.py --kb PATH [--stories 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from engine.knowledge.lemmas import FUNCTION_WORDS, lemmatize, words
from engine.knowledge.retrieve import StoreRetriever
from engine.paths import shared_file

DEV = shared_file("rocstories", "plan_and_write")
DEV_FILE = DEV / "ROCStories_all_merge_tokenize.titlesepkeysepstory.dev"
STOP = FUNCTION_WORDS | set("go get got make made say said do did take took come came went day time".split())


def parse_story(line: str) -> tuple[str, list[str], list[str]] | None:
    """'title <EOT> k1 .. k5 <EOL> </s> s1 </s> .. s5' -> (title, keywords, sentences)."""
    try:
        title, rest = line.split("<EOT>", 1)
        keywords, story = rest.split("<EOL>", 1)
    except ValueError:
        return None
    sentences = [s.strip() for s in story.split("</s>") if s.strip()]
    keywords_list = keywords.split()
    if len(sentences) != 5 or len(keywords_list) != 5:
        return None
    return title.strip(), keywords_list, sentences


def content_lemmas(text: str) -> set[str]:
    return {lemmatize(w) for w in words(text) if w not in STOP and len(w) > 2} - STOP


def evaluate(*, kb: Path, stories: int = 200, seed: int = 0, top_n: int = 5) -> dict:
    from engine.knowledge.rank import EmbeddingRanker

    retriever, ranker, rng = StoreRetriever(kb), EmbeddingRanker(), random.Random(seed)
    counts = {"cases": 0, "with_facts": 0, "ranker_hits": 0, "random_hits": 0}
    with DEV_FILE.open(encoding="utf-8") as handle:
        parsed = (parse_story(line) for line in handle)
        for title, keywords, sentences in [p for p in parsed if p][:stories]:
            for i in range(1, 5):
                counts["cases"] += 1
                facts = retriever.retrieve([keywords[i]], limit=50)
                if not facts:
                    continue
                counts["with_facts"] += 1
                gold = content_lemmas(sentences[i]) - content_lemmas(keywords[i])
                context = " ".join([title + ".", *sentences[:i]])
                ranked = [sf.fact for sf in ranker.rank(context, facts, top_n=top_n)]
                shuffled = rng.sample(facts, min(top_n, len(facts)))
                counts["ranker_hits"] += any(content_lemmas(f.sentence) & gold for f in ranked)
                counts["random_hits"] += any(content_lemmas(f.sentence) & gold for f in shuffled)
    cases = counts["cases"]
    return {**counts, "ranker": counts["ranker_hits"] / cases, "random": counts["random_hits"] / cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", required=True, help="knowledge store to evaluate")
    parser.add_argument("--stories", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = evaluate(kb=Path(args.kb), stories=args.stories, seed=args.seed)
    print(f"{args.kb}: {result['cases']} next sentences, {result['with_facts']} with retrieved facts")
    print(f"  ranker top-5 share: {result['ranker']:.3f}   random top-5 share: {result['random']:.3f}")


if __name__ == "__main__":
    main()
