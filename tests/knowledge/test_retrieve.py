"""Retrieval from a small store, and the default stage with a missing or empty store."""

from __future__ import annotations

from engine.knowledge import load_default_stage
from engine.knowledge.base import NullRetriever
from engine.knowledge.import_conceptnet import import_cn100k
from engine.knowledge.retrieve import RetrievalConfig, StoreRetriever


def test_keyword_lemma_finds_head_and_tail(small_kb):
    facts = StoreRetriever(small_kb).retrieve(["dogs"])
    assert {f.tail for f in facts} == {"animal", "pet", "mammal", "bark", "kennel"}
    weights = [f.weight for f in facts]
    assert weights == sorted(weights, reverse=True)
    assert all(f.source == "cn100k" and f.sentence for f in facts)


def test_multi_word_concept_found_by_its_words(small_kb):
    retriever = StoreRetriever(small_kb)
    assert [f.head for f in retriever.retrieve(["ice"])] == ["hockey"]
    assert [f.head for f in retriever.retrieve(["tires"])] == ["flat tire"]
    assert [f.tail for f in retriever.retrieve(["battery"])] == ["battery"]


def test_no_match_and_empty_keywords(small_kb):
    retriever = StoreRetriever(small_kb)
    assert retriever.retrieve(["zeppelin"]) == []
    assert retriever.retrieve([]) == []
    assert retriever.retrieve(["!!!"]) == []


def test_limit_and_per_relation_cap(small_kb):
    assert len(StoreRetriever(small_kb).retrieve(["dog"], limit=2)) == 2
    capped = StoreRetriever(small_kb, RetrievalConfig(per_relation=1)).retrieve(["dog"])
    relations = [f.relation for f in capped]
    assert len(relations) == len(set(relations)) == 3


def test_same_triple_from_two_sources_is_returned_once(tmp_path, cn100k_file):
    kb = tmp_path / "kb.db"
    import_cn100k(path=cn100k_file, kb=kb)
    import_cn100k(path=cn100k_file, kb=kb, source="copy")
    facts = StoreRetriever(kb).retrieve(["dog"])
    assert len(facts) == 5


def test_default_stage_without_store_still_writes(private_data_dir):
    retriever, ranker, note = load_default_stage(ranker="null")
    assert isinstance(retriever, NullRetriever)
    assert "no knowledge base" in note and "does not exist" in note
    assert ranker.rank("context", []) == []


def test_default_stage_with_empty_store(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    kb = tmp_path / "kb.db"
    import_cn100k(path=empty, kb=kb)
    retriever, _, note = load_default_stage(kb_path=kb, ranker="null")
    assert isinstance(retriever, NullRetriever) and "is empty" in note


def test_default_stage_uses_env_store(small_kb, monkeypatch):
    monkeypatch.setenv("CNTRL_KB", str(small_kb))
    retriever, _, note = load_default_stage(ranker="null")
    assert isinstance(retriever, StoreRetriever)
    assert "9 edges" in note
    assert retriever.retrieve(["phone"])
