"""Running one engine step for the app: stream a sentence's text as it comes, turn failures into page messages."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from app.errors import AppError
from engine.backends import BackendUnavailable
from engine.types import SamplingParams, Step, StoryContext
from storage import Provenance

log = logging.getLogger(__name__)
MAX_KEYWORD_TEXT = 2_000


class Engine(Protocol):
    """What the app needs of the engine's Pipeline (and what FakeEngine provides)."""

    model_id: str

    def suggest_keywords(self, context: StoryContext, seed: int | None = None) -> list[str]: ...

    def stream_step(self, context: StoryContext, **kwargs) -> Iterator[str | Step]: ...

    def plan_storyline(self, context: StoryContext, count: int = 4, *, kept=(), seed: int | None = None): ...


@dataclass(frozen=True)
class StreamedText:
    """Text streamed for sentence `index` (1 = first sentence after the premise)."""

    index: int
    text: str


@dataclass(frozen=True)
class StepRequest:
    """What the writer asked for one sentence."""

    keywords: str | list[str] = ""
    params: SamplingParams = SamplingParams()
    pinned: tuple[str, ...] = ()
    vetoed: tuple[str, ...] = ()
    prefix_tokens: tuple[int, ...] = ()  # the sentence starts with these tokens (continue from a chosen token)


def keyword_list(keywords: str | Iterable[str] | None) -> list[str]:
    """'a, b' or ['a', 'b'] -> ['a', 'b'] (blank entries dropped, absurd pastes clipped)."""
    if not keywords:
        return []
    if isinstance(keywords, str):
        keywords = keywords[:MAX_KEYWORD_TEXT].split(",")
    return [k.strip() for k in keywords if k and k.strip()]


def stream_sentence(
    engine: Engine, context: StoryContext, index: int, request: StepRequest
) -> Iterator[StreamedText | Step]:
    """The text of sentence `index` as it streams, then its Step; engine failures become `AppError`."""
    step = None
    extra = {"prefix_tokens": list(request.prefix_tokens)} if request.prefix_tokens else {}
    try:
        for item in engine.stream_step(
            context,
            keywords=keyword_list(request.keywords) or None,
            pinned=request.pinned,
            vetoed=request.vetoed,
            params=request.params,
            **extra,
        ):
            if isinstance(item, Step):
                step = item
            else:
                yield StreamedText(index, item)
    except AppError:
        raise
    except ValueError as error:
        raise AppError(str(error)) from None
    except BackendUnavailable as error:  # the generation server is down or restarted: say so, keep the text
        log.warning("generation backend unavailable on sentence %d: %s", index, error)
        raise AppError(str(error)) from None
    except Exception as error:  # a model failure must reach the page as a sentence, not a trace
        log.exception("engine failed on sentence %d", index)
        raise AppError(f"the engine failed on this sentence, nothing was saved ({type(error).__name__}: {error})") from None
    if step is None or not step.sentence.strip():
        raise AppError("the engine returned an empty sentence; try again or change the keywords")
    yield step


def suggest(engine: Engine, context: StoryContext, seed: int | None) -> list[str]:
    """The predictor's keywords; failures become `AppError`."""
    return list(_asking(engine, "keyword prediction", lambda: engine.suggest_keywords(context, seed=seed)))


def plan(engine: Engine, context: StoryContext, count: int, kept: list[list[str]], seed: int | None):
    """The engine's storyline (engine.storyline.Storyline) for `count` slots after `context`; failures become `AppError`."""
    return _asking(engine, "storyline planning", lambda: engine.plan_storyline(context, count, kept=kept, seed=seed))


def _asking(engine: Engine, what: str, call):
    """`call()`, with a refusal (ValueError), a backend outage or a model failure as one `AppError`."""
    try:
        return call()
    except ValueError as error:
        raise AppError(str(error)) from None
    except BackendUnavailable as error:
        log.warning("generation backend unavailable for %s: %s", what, error)
        raise AppError(str(error)) from None
    except Exception as error:
        log.exception("%s failed", what)
        raise AppError(f"{what} failed ({type(error).__name__}: {error})") from None


def provenance(step: Step) -> Provenance:
    """The stored record of a generated sentence."""
    return Provenance.from_step(step.to_dict(), source="generated")
