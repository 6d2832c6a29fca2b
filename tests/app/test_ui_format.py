"""The sentence row's provenance view: the coherence reranker's score of each candidate."""

from __future__ import annotations

from datetime import UTC, datetime

from app.ui_format import provenance_html
from engine.types import coherence_summary
from storage import NodeView, Provenance

CANDIDATES = ["Tom ran home.", "Tom found the <b>phone</b>.", "It rained."]


def _node(**provenance) -> NodeView:
    record = Provenance(source="generated", model="tiny", **provenance)
    return NodeView(id=1, parent_id=None, position=0, text="Tom ran home.", provenance=record,
                    created_at=datetime.now(UTC), sibling_ids=[1])


def test_scores_read_in_candidate_order_with_the_chosen_one_marked():
    assert coherence_summary([0.71, 0.4449, 0.375], 0) == "0.71 (chosen), 0.44, 0.38"
    assert coherence_summary([0.71, 0.4449, 0.375], 2) == "0.71, 0.44, 0.38 (chosen)"
    assert coherence_summary([0.5], None) == "0.50"
    assert coherence_summary([], 0) == ""


def test_the_provenance_view_shows_the_scores_of_a_reranked_sentence():
    html = provenance_html(_node(candidates=CANDIDATES, chosen=1, coherence=[0.2, 0.9051, 0.31]))
    assert "<li><b>coherence</b>: 0.20, 0.91 (chosen), 0.31</li>" in html
    switched = provenance_html(_node(candidates=CANDIDATES, chosen=2, coherence=[0.2, 0.9051, 0.31]))
    assert "<li><b>coherence</b>: 0.20, 0.91, 0.31 (chosen)</li>" in switched


def test_no_coherence_line_without_a_reranker():
    assert "coherence" not in provenance_html(_node(candidates=CANDIDATES, chosen=0))
    assert "coherence" not in provenance_html(_node())
