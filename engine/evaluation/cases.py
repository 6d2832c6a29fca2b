"""Held-out evaluation cases from Plan-and-Write (test for reported figures, dev for tuning).

One case per story: the premise (sentence 1) and the human continuation (sentences 2-5)
for story-level metrics, and one sentence-level probe (story so far, gold next sentence,
its storyline keyword) whose position cycles through sentences 2-5.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.training.text import Story, default_truecaser, read_plan_write
from engine.types import StoryContext


@dataclass(frozen=True)
class Case:
    story: Story
    position: int  # index of the probed sentence (1-4)

    @property
    def premise(self) -> str:
        return self.story.sentences[0]

    @property
    def human_continuation(self) -> tuple[str, ...]:
        return self.story.sentences[1:]

    @property
    def context(self) -> StoryContext:
        return StoryContext(self.premise, self.story.sentences[1 : self.position])

    @property
    def gold_sentence(self) -> str:
        return self.story.sentences[self.position]

    @property
    def gold_keyword(self) -> str:
        return self.story.keywords[self.position]


def load_cases(split: str = "test", *, limit: int = 20, offset: int = 0) -> list[Case]:
    """`limit` cases from the Plan-and-Write `split`, starting at story `offset`."""
    if split not in ("dev", "test"):
        raise ValueError(f"unknown split {split!r}; choose dev or test")
    stories = read_plan_write(split, truecaser=default_truecaser(), limit=offset + limit)[offset:]
    return [Case(story, 1 + i % 4) for i, story in enumerate(stories)]
