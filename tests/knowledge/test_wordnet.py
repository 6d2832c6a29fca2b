"""Building the WordNet knowledge base (a 3,000-synset subset) and the build command."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.knowledge.import_wordnet import WordNetBuildConfig, build_wordnet
from engine.knowledge.retrieve import StoreRetriever
from engine.knowledge.wordnet_data import sense_counts

pytestmark = pytest.mark.integration


def test_wordnet_has_all_synsets(wordnet):
    assert sum(1 for _ in wordnet.all_synsets()) == 117_659
    assert sense_counts(wordnet)


def test_build_subset_and_query(wordnet, tmp_path):
    kb = tmp_path / "kb.db"
    report = build_wordnet(kb=kb, config=WordNetBuildConfig.from_name("tiny"))
    assert report.kept > 5000
    first_lemma = next(iter(wordnet.all_synsets())).lemmas()[0].name()  # built first
    facts = StoreRetriever(kb).retrieve([first_lemma], limit=50)
    assert facts and all(f.source == "wordnet" for f in facts)
    relations = {f.relation for f in StoreRetriever(kb).retrieve(["abandon", "able", "abbey"], limit=200)}
    assert {"Synonym", "DefinedAs"} <= relations


def test_build_command_is_idempotent(wordnet, tmp_path, capsys):
    kb = str(tmp_path / "kb.db")
    assert main(["kb", "build-wordnet", "--preset", "tiny", "--kb", kb]) == 0
    first = capsys.readouterr().out
    assert "kept" in first
    assert main(["kb", "build-wordnet", "--kb", kb]) == 0
    assert "already" in capsys.readouterr().out
