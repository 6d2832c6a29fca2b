"""Plain text and escaped HTML for the page: writer text is never interpreted as markup."""

from __future__ import annotations

from html import escape
from typing import Any

from engine.bible import SOURCE as BIBLE_SOURCE
from engine.types import SamplingParams, coherence_summary
from storage import NodeView, Provenance, StorySummary

BIBLE_MARK = "📖"
RATING_MARKS = {"up": "👍", "down": "👎"}
PARAM_LABELS = {
    "temperature": "temperature", "top_p": "top-p", "top_k": "top-k", "max_new_tokens": "max tokens",
    "n_candidates": "candidates", "knowledge_top_n": "knowledge top-N", "keyword_strength": "guidance",
    "repetition_penalty": "repetition penalty",
}


def fact_choices(provenance: Provenance) -> list[tuple[str, str]]:
    """(label, value) pairs for the pin/veto boxes: the score, then the fact (a bible entry by its name);
    the value is the fact sentence, which is what pins and vetoes name."""
    choices = []
    for fact in provenance.facts:
        text = _fact_text(fact)
        if text:
            choices.append((f"{_score(fact)} · {fact_label(fact)}", text))
    return choices


def knowledge_html(provenance: Provenance) -> str:
    """The facts used, with ranker scores, as an escaped table."""
    if not provenance.facts:
        note = next((n for n in provenance.notes if "knowledge" in n), "no knowledge used")
        return f"<p class='cntrl-muted'>{escape(note)}</p>"
    rows = "".join(
        f"<tr><td>{_score(f)}</td><td>{escape(fact_label(f))}</td><td>{escape(_relation(f))}</td></tr>"
        for f in provenance.facts
    )
    return f"<table class='cntrl-facts'><tr><th>score</th><th>fact</th><th>relation</th></tr>{rows}</table>"


def fact_label(fact: dict[str, Any]) -> str:
    """A fact as the writer reads it; a story-bible entry starts with its name ("📖 Mara: ...")."""
    text = _fact_text(fact)
    return f"{BIBLE_MARK} {fact.get('head', '')}: {text}" if fact.get("source") == BIBLE_SOURCE else text


def _relation(fact: dict[str, Any]) -> str:
    """The relation column; for a bible entry, what called it up: its key, "always" or a pin."""
    if fact.get("source") != BIBLE_SOURCE:
        return str(fact.get("relation", ""))
    trigger = str(fact.get("tail", ""))
    how = {"always": "always included", "pinned": "pinned"}.get(trigger, f"key '{trigger}'")
    return f"story bible ({how})"


def _fact_text(fact: dict[str, Any]) -> str:
    return str(fact.get("text") or fact.get("sentence") or "")


def ratings_text(ratings) -> str:
    """A version's ratings in one line: "👍 ann: vivid · 👎 bob" (empty when there are none)."""
    return " · ".join(f"{RATING_MARKS.get(r.rating, r.rating)} {r.user}" + (f": {r.reason}" if r.reason else "")
                      for r in ratings)


def ratings_html(ratings) -> str:
    """The ratings line of a sentence row, escaped."""
    text = ratings_text(ratings)
    if not text:
        return "<span class='cntrl-muted'>not rated yet</span>"
    return f"<span class='cntrl-ratings'>{escape(text)}</span>"


def provenance_html(node: NodeView) -> str:
    """Model, seed, source, sampling params, the reranker's candidate scores and time per stage, escaped."""
    p = node.provenance
    params = ", ".join(f"{PARAM_LABELS.get(k, k)} {v}" for k, v in p.params.items() if k in PARAM_LABELS)
    timings = ", ".join(f"{k} {float(v):.0f} ms" for k, v in p.timings_ms.items() if "." not in k)
    lines = [
        ("source", f"{p.source}; keywords {p.keywords_source or 'typed'}"),
        ("model", p.model or "none (written by hand)"),
        ("backend", ", ".join(f"{k} {v}" for k, v in p.backend.items() if v)),
        ("seed", "" if p.seed is None else str(p.seed)),
        ("sampling", params),
        ("coherence", coherence_summary(p.coherence, p.chosen)),
        ("time", timings),
        ("notes", "; ".join(p.notes)),
        ("memory", _steered_by(p.steering.get("memory"))),
        ("author's note", _steered_by(p.steering.get("authors_note"), p.steering.get("note_depth"))),
    ]
    items = "".join(f"<li><b>{k}</b>: {escape(v)}</li>" for k, v in lines if v)
    return f"<ul class='cntrl-provenance'>{items}</ul>"


def _steered_by(record: dict[str, Any] | None, depth: int | None = None) -> str:
    """A recorded memory or author's note: its text (the start of a long one) and its length."""
    if not record or not record.get("chars"):
        return ""
    where = "" if depth is None else f", {depth} sentence(s) from the end"
    digest = f", sha256 {record['sha256'][:12]}" if record.get("sha256") else ""
    return f"{record.get('text', '')} ({record['chars']:,} characters{digest}{where})"


def shown_tokens(node: NodeView) -> list[dict[str, Any]]:
    """The recorded tokens of the shown candidate ([] for typed, edited or older sentences)."""
    rows, chosen = node.provenance.tokens, node.provenance.chosen or 0
    return rows[chosen] if chosen < len(rows) else []


def token_spans(tokens: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(token text, probability) pairs for the token view."""
    return [(t["text"], f"{100 * t['prob']:.0f}%") for t in tokens]


def alternative_choices(tokens: list[dict[str, Any]], position: int) -> list[tuple[str, str]]:
    """(label, "position:token id") for the alternatives at one token position."""
    if not 0 <= position < len(tokens):
        return []
    return [(f"{a['text'].strip() or repr(a['text'])} · {100 * a['prob']:.0f}%", f"{position}:{a['id']}")
            for a in tokens[position].get("alternatives", [])]


def candidate_label(node: NodeView) -> str:
    candidates = node.provenance.candidates
    if len(candidates) < 2:
        return "1 candidate"
    return f"candidate {(node.provenance.chosen or 0) + 1} of {len(candidates)}"


def version_label(node: NodeView) -> str:
    return f"version {node.version} of {node.versions}"


def story_rows(stories: list[StorySummary]) -> list[list[Any]]:
    """Rows of the story list table (text cells only)."""
    return [
        [s.id, s.title, s.sentences, s.updated_at.strftime("%Y-%m-%d %H:%M"), "deleted" if s.deleted_at else ""]
        for s in stories
    ]


def params_from_panel(
    preset: str, temperature: float, top_p: float, top_k: int, max_tokens: int,
    candidates: int, knowledge_top_n: int, strength: float, seed: float | None,
) -> SamplingParams:
    """SamplingParams from the sampling panel's values (a blank seed means a random one)."""
    return SamplingParams.from_preset(
        preset or "balanced",
        temperature=float(temperature), top_p=float(top_p), top_k=int(top_k),
        max_new_tokens=int(max_tokens), n_candidates=int(candidates),
        knowledge_top_n=int(knowledge_top_n), keyword_strength=float(strength),
        seed=None if seed is None or seed == "" or int(seed) < 0 else int(seed),
    )


def _score(fact: dict[str, Any]) -> str:
    score = fact.get("score")
    return f"{float(score):.2f}" if isinstance(score, int | float) else "–"
