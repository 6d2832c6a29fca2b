"""The evaluation harness: every system on the same cases, one row of metrics each.

Sentence-level probes (gold perplexity, keyword inclusion with and without guidance,
antonym controllability) use the case's story so far and gold keyword; story-level
metrics write 4 sentences from the premise with predicted keywords, as a writer who
presses Continue would get them. The `human` row applies the text metrics to the
human continuations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from engine.evaluation import metrics as M
from engine.evaluation.antonyms import AntonymTable
from engine.evaluation.cases import Case
from engine.evaluation.scorer import target_nll
from engine.evaluation.storyline_metric import storyline_overlap
from engine.evaluation.systems import System
from engine.storyline import rake_spread
from engine.types import SamplingParams, StoryContext

METRICS = ("gold_ppl", "inclusion_guided", "inclusion_unguided", "antonym_inclusion", "repeat4", "distinct4",
           "words_per_sentence", "odd_rate", "name_drift", "knowledge_use", "fluency_ppl", "storyline_slot",
           "storyline_set", "seconds_per_sentence")
STORY_SENTENCES = 4


@dataclass
class SystemRun:
    """What one system wrote, kept for reading beside the human stories."""

    name: str
    stories: list[list[str]] = field(default_factory=list)
    facts: list[list[list[str]]] = field(default_factory=list)
    keywords: list[list[list[str]]] = field(default_factory=list)
    seconds: float = 0.0
    probes: dict[str, list] = field(default_factory=dict)


def gold_nll(system: System, case: Case, facts: list[str]) -> tuple[float, int]:
    """Summed NLL and token count of the gold sentence under the system's own prompt."""
    prompt, lead = system.prompt(case.context, [case.gold_keyword], facts)
    tok = system.generator.tokenizer
    target = list(tok(lead + case.gold_sentence.strip(), add_special_tokens=False)["input_ids"])
    return target_nll(system.scoring_model, prompt.ids, target), len(target)


def ranked_facts(system: System, case: Case, top_n: int) -> list[str]:
    """The facts the system would retrieve and rank for the gold keyword."""
    if not system.spec.knowledge or system.spec.plain:
        return []
    pipeline = system.pipeline
    found = pipeline.retriever.retrieve([case.gold_keyword], limit=pipeline.retrieve_limit)
    return [s.fact.sentence for s in pipeline.ranker.rank(case.context.text(), found, top_n=top_n)] if found else []


def probe_case(system: System, case: Case, params: SamplingParams, antonyms: AntonymTable) -> dict:
    """Sentence-level results of one case: gold NLL, inclusion with/without guidance, antonym."""
    facts = ranked_facts(system, case, params.knowledge_top_n)
    nll, n = gold_nll(system, case, facts)
    out = {"nll": nll, "tokens": n}
    if system.spec.plain:
        return out
    kw = [case.gold_keyword]
    guided, _, _ = system.write(case.context, kw, params)
    unguided, _, _ = system.write(case.context, kw, replace(params, keyword_strength=0.0))
    out.update(guided=M.includes_all(guided, kw), unguided=M.includes_all(unguided, kw))
    other = antonyms.antonym(case.gold_keyword)
    if other and other.lower() != case.gold_keyword.lower() and " " not in other:
        swapped, _, _ = system.write(case.context, [other], params)
        out["antonym"] = M.includes_all(swapped, [other])
    return out


def planned_keywords(system: System, case: Case, params: SamplingParams) -> list[list[str] | None]:
    """A static system's storyline, planned from the premise (an empty slot: predicted when written);
    None per sentence for a dynamic one, which predicts each sentence's keywords as it writes."""
    if not system.spec.static or system.spec.plain:
        return [None] * STORY_SENTENCES
    plan = system.pipeline.plan_storyline(StoryContext(case.premise), STORY_SENTENCES, seed=params.seed or 0)
    return [slot or None for slot in plan.slots]


def write_story(system: System, case: Case, params: SamplingParams, run: SystemRun) -> None:
    """4 sentences from the premise with predicted (or, static, planned) keywords; appended to `run`."""
    context, sentences, facts, keywords = StoryContext(case.premise), [], [], []
    story_params = params if system.spec.guided else replace(params, keyword_strength=0.0)
    start = time.perf_counter()
    planned = planned_keywords(system, case, params)
    for i in range(STORY_SENTENCES):
        sentence, used, kws = system.write(context, planned[i], replace(story_params, seed=(params.seed or 0) + i))
        sentences.append(sentence)
        facts.append(used)
        keywords.append(kws)
        context = context.extend(sentence)
    run.seconds += time.perf_counter() - start
    run.stories.append(sentences)
    run.facts.append(facts)
    run.keywords.append(keywords)


def story_metrics(stories: list[list[str]], facts: list[list[list[str]]] | None = None,
                  keywords: list[list[list[str]]] | None = None, premises: list[str] | None = None) -> dict:
    """Repeat-4, Distinct-4, words per sentence, odd rate, (with premises) name drift and (with
    facts) knowledge use."""
    from engine.names import name_drift

    texts = [" ".join(s) for s in stories]
    sentences = [x for s in stories for x in s]
    out = {"repeat4": M.repeat_n(texts, 4), "distinct4": M.distinct_n(texts, 4),
           "words_per_sentence": M.words_per_sentence(sentences), "odd_rate": M.odd_rate(sentences),
           "name_drift": None, "knowledge_use": None}
    if premises is not None:
        drifting, total = name_drift(zip(premises, stories, strict=True))
        out["name_drift"] = drifting / total if total else None
    if facts is not None:
        flags = [M.uses_knowledge(x, f, k) for s, fs, ks in zip(stories, facts, keywords or [], strict=False)
                 for x, f, k in zip(s, fs, ks, strict=False) if f]
        out["knowledge_use"] = M.share(flags) if flags else 0.0
    return out


def fluency(scorer, cases: list[Case], stories: list[list[str]]) -> float | None:
    if scorer is None:
        return None
    total = count = 0
    for case, story in zip(cases, stories, strict=True):
        nll, n = scorer.nll(case.premise, " ".join(story))
        total, count = total + nll, count + n
    return M.perplexity(total, count)


def evaluate_system(system: System, cases: list[Case], *, params: SamplingParams, antonyms: AntonymTable,
                    scorer=None, progress=None) -> tuple[dict, SystemRun]:
    """One system's row of METRICS and what it wrote."""
    run = SystemRun(system.spec.name)
    probes = []
    for i, case in enumerate(cases):
        case_params = replace(params, seed=(params.seed or 0) + 1000 * i)
        probes.append(probe_case(system, case, case_params, antonyms))
        write_story(system, case, case_params, run)
        if progress is not None:
            progress.update(1)
    run.probes = {"probes": probes}
    row = {m: None for m in METRICS}
    row["gold_ppl"] = M.perplexity(sum(p["nll"] for p in probes), sum(p["tokens"] for p in probes))
    row["inclusion_guided"] = M.share(p["guided"] for p in probes if "guided" in p)
    row["inclusion_unguided"] = M.share(p["unguided"] for p in probes if "unguided" in p)
    row["antonym_inclusion"] = M.share(p["antonym"] for p in probes if "antonym" in p)
    row.update(story_metrics(run.stories, None if system.spec.plain else run.facts, run.keywords,
                             premises=[c.premise for c in cases]))
    row["fluency_ppl"] = fluency(scorer, cases, run.stories)
    if not system.spec.plain:
        row.update(storyline_row(run.keywords, cases))
    row["seconds_per_sentence"] = run.seconds / max(1, STORY_SENTENCES * len(cases))
    return row, run


def storyline_row(keywords: list[list[list[str]]], cases: list[Case]) -> dict:
    """Overlap of the keywords each sentence was written with (a static system's plan, a dynamic one's
    predictions) with the gold storyline of sentences 2-5, per slot and as a set."""
    overlap = storyline_overlap(keywords, [list(c.story.keywords[1:]) for c in cases])
    return {"storyline_slot": overlap.slot, "storyline_set": overlap.set} if overlap else {}


def rake_row(cases: list[Case]) -> dict:
    """The storyline metric for RAKE on the premise, one keyword per slot (a baseline that needs no model)."""
    row = {m: None for m in METRICS}
    row.update(storyline_row([rake_spread(c.premise, STORY_SENTENCES) for c in cases], cases))
    return row


def human_row(cases: list[Case], scorer=None) -> dict:
    """The text metrics on the human continuations (gold keyword inclusion: the storyline keyword)."""
    stories = [list(c.human_continuation) for c in cases]
    row = {m: None for m in METRICS}
    row.update(story_metrics(stories, premises=[c.premise for c in cases]))
    row["inclusion_unguided"] = M.share(M.includes_all(c.gold_sentence, [c.gold_keyword]) for c in cases)
    row["fluency_ppl"] = fluency(scorer, cases, stories)
    return row
