"""Making a study from its settings: the one workflow behind `create` and the admin page.

Stories come from saved stories, from the writers' preference pairs (a version rated up beside a
sibling rated down, so raters can confirm or overturn the writer), or are generated (premises x
systems); then the study, its items and any rater assignments are written in one transaction,
so a failure leaves nothing behind. A caller that already holds a loaded engine (the app, whose
editor loaded its model) hands it over and no second copy of that model is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.studies.studies import (
    StudySpec,
    attention_checks,
    create_study_with_items,
    read_premises,
    stories_from_pairs,
    stories_from_saved,
)
from app.studies.systems import WrittenStory, build_writers, check_parts, generate_stories
from engine.paths import shared_file
from storage import (
    assign_raters,
    get_user_by_name,
    preference_pairs,
    regular_holders,
    run_in_transaction,
)

DEFAULT_PREMISES = str(shared_file("rocstories", "story_cloze_2016", "cloze_test_val_spring2016.csv"))


@dataclass(frozen=True)
class Generation:
    """How a generated study writes its stories: premises x systems on a model."""

    premises: str = DEFAULT_PREMISES  # Story Cloze CSV (first sentences) or one premise per line
    limit: int = 10
    offset: int = 0
    systems: tuple[str, ...] = ("full", "plain")
    model: str = "default"  # load preset, hub id, directory or GGUF file
    other_model: str | None = None  # the model of the `model` system
    sentences: int = 4  # sentences after each premise
    kb: str | None = None
    predictor: str = "model"

    @classmethod
    def from_name(cls, name: str) -> Generation:
        """A named preset: "default", or "tiny" (the tiny random model, 2 premises, 1 sentence)."""
        presets = {
            "default": cls(),
            "tiny": cls(limit=2, systems=("full", "plain"), model="tiny", sentences=1, predictor="rake"),
        }
        if name not in presets:
            raise ValueError(f"no generation preset {name!r}; choose from {', '.join(presets)}")
        return presets[name]

    def models(self) -> list[str]:
        """The models its systems write with."""
        chosen = [self.model] if any(s != "model" for s in self.systems) else []
        return chosen + ([self.other_model] if "model" in self.systems and self.other_model else [])


@dataclass(frozen=True)
class FromRatings:
    """A pairwise study of the writers' own preferences: each preference pair is one item."""

    limit: int = 10  # the most pairs, oldest ratings first


@dataclass(frozen=True)
class StudySettings:
    """Everything that makes a study, from the command line's flags or the admin page's form.

    Attributes:
        spec: Name, kind, criteria, k, attention-check rate, instructions, seed.
        owner_id: The admin who owns it (and whose saved stories `story_ids` names).
        story_ids: Saved stories to rate; empty: generate them as `generation` says.
        generation: Premises, systems and model of a generated study.
        ratings: Make the study from the writers' preference pairs instead (pairwise only).
        raters: Rater names to give items now (others get theirs when they open an invite).
    """

    spec: StudySpec
    owner_id: int | None = None
    story_ids: tuple[int, ...] = ()
    generation: Generation = field(default_factory=Generation)
    raters: tuple[str, ...] = ()
    ratings: FromRatings | None = None


@dataclass(frozen=True)
class CreatedStudy:
    """What `make_study` did."""

    study_id: int
    stories: int
    assignments: int
    idle_raters: list[str]  # named raters left without items: every item already had k raters
    models_loaded: list[str]  # models loaded for this study
    models_reused: list[str]  # models the caller had already loaded
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)  # system -> what wrote its first story


def make_study(
    factory: sessionmaker[Session],
    *,
    settings: StudySettings,
    preloaded: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> CreatedStudy:
    """Collect or generate the stories, then write the study, its items and assignments at once.

    Args:
        factory: Session factory of the study database.
        settings: The study's settings.
        preloaded: Model name -> an engine pipeline already loaded by the caller; a generated
            study writes with it instead of loading that model again.
        progress: Show a progress bar while generating.

    Returns:
        The new study's id and counts, and which models were loaded or reused.
    """
    rater_ids = run_in_transaction(factory, lambda s: [get_user_by_name(s, n).id for n in settings.raters])
    loaded: list[str] = []
    reused: list[str] = []
    if settings.ratings is not None:
        stories, extra = _stories_from_ratings(factory, settings)
    elif settings.story_ids:
        if settings.owner_id is None:
            raise ValueError("saved stories need their owner (--owner): whose stories they are")
        stories = run_in_transaction(factory, lambda s: stories_from_saved(
            s, user_id=settings.owner_id, story_ids=list(settings.story_ids)))
        extra: dict[str, Any] = {"source": "saved", "story_ids": list(settings.story_ids)}
    else:
        gen, ready = settings.generation, dict(preloaded or {})
        premises = read_premises(gen.premises, limit=gen.limit, offset=gen.offset)
        check_parts(systems=gen.systems, model=gen.model, other_model=gen.other_model, kb_path=gen.kb, preloaded=ready)
        writers = build_writers(systems=list(gen.systems), model=gen.model, other_model=gen.other_model,
                                kb_path=gen.kb, predictor=gen.predictor, preloaded=ready)
        reused = [m for m in dict.fromkeys(gen.models()) if m in ready]
        loaded = [m for m in dict.fromkeys(gen.models()) if m not in ready]
        stories = generate_stories(writers=writers, premises=premises, n_sentences=gen.sentences,
                                   seed=settings.spec.seed, progress=progress)
        extra = {"source": "generated", "premises": str(gen.premises), "offset": gen.offset, "model": gen.model,
                 "other_model": gen.other_model, "sentences": gen.sentences}

    def write(session: Session) -> tuple[int, int, list[str]]:
        study = create_study_with_items(
            session, spec=settings.spec, stories=stories, owner_id=settings.owner_id, settings=extra
        )
        added = assign_raters(session, study_id=study.id, rater_ids=rater_ids, make_checks=attention_checks,
                              seed=settings.spec.seed) if rater_ids else 0
        held = regular_holders(session, study_id=study.id)
        idle = [n for n, r in zip(settings.raters, rater_ids, strict=True) if r not in held]
        return study.id, added, idle

    study_id, added, idle = run_in_transaction(factory, write)
    made_by: dict[str, dict[str, Any]] = {}
    for story in stories if extra["source"] == "generated" else ():
        made_by.setdefault(story.system, dict(story.provenance))
    return CreatedStudy(study_id, len(stories), added, idle, loaded, reused, made_by)


def describe_provenance(made: dict[str, Any]) -> str:
    """One line of what wrote a system's stories, for the command line and the admin page."""
    if "source" in made:
        return f"{made['source']}, model {made.get('model', 'unknown')}"
    knowledge = (f"knowledge base {made['knowledge_base']} ({made.get('knowledge_edges', 0):,} edges, "
                 f"{made.get('facts_used', 0)} facts used)" if made.get("knowledge_base", "none") != "none"
                 else "no knowledge")
    return (f"model {made.get('model', '?')}, adapter {made.get('adapter', 'none')}, backend {made.get('backend', '?')}, "
            f"{knowledge}, keywords {made.get('keywords', 'none')}")


def _stories_from_ratings(
    factory: sessionmaker[Session], settings: StudySettings
) -> tuple[list[WrittenStory], dict[str, Any]]:
    """Every writer's preference pairs as pairwise material, and what to keep with the study about them."""
    if settings.spec.kind != "pairwise":
        raise ValueError(f"a study from ratings compares two versions of a sentence: its kind must be pairwise, "
                         f"not {settings.spec.kind}")
    if settings.story_ids:
        raise ValueError("choose saved stories or the writers' ratings, not both")
    limit = settings.ratings.limit
    stories = run_in_transaction(factory, lambda s: stories_from_pairs(preference_pairs(s), limit=limit))
    return stories, {"source": "ratings", "pairs": len(stories) // 2, "limit": limit}


def engine_names(engine: Any) -> list[str]:
    """The names a study may ask for the caller's engine by: what it was loaded as, and its model id."""
    if engine is None:
        return []
    from app.engine_handle import EngineHandle

    handle = EngineHandle.of(engine)
    names = [handle.description] if handle.description else []
    if handle.ready:
        names.append(str(getattr(handle.get(), "model_id", "")))
    return [n for n in dict.fromkeys(names) if n]


def reusable(engine: Any, wanted: Iterable[str]) -> dict[str, Any]:
    """The caller's engine under each of its names, when a wanted model is one of them.

    While that engine is still loading this refuses (`AppError` says so) rather than
    loading a second copy; a model it is not is left for `build_writers` to load.
    """
    names = engine_names(engine)
    if not set(names) & set(wanted):
        return {}
    from app.engine_handle import EngineHandle

    pipeline = EngineHandle.of(engine).get()
    return dict.fromkeys(names, pipeline)
