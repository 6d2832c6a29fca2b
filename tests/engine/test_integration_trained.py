"""The shipped adapter on the real default model, through the evaluation harness (a few Plan-and-Write
dev cases, so CI stays short; the reported figures come from `python -m engine evaluate` on test)."""

from __future__ import annotations

import pytest

from engine import paths
from engine.adapters import DEFAULT_ADAPTER
from engine.evaluation.harness import METRICS
from engine.training.text import plan_write_path

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (DEFAULT_ADAPTER / "adapter_config.json").is_file(), reason="no shipped adapter"),
    pytest.mark.skipif(not plan_write_path("dev").is_file(), reason="Plan-and-Write dev file not found"),
]

PRODUCT_DATA_DIR = paths.data_dir()


def test_harness_rows_for_prompted_trained_and_human():
    from engine.evaluation.run import evaluate
    from engine.evaluation.systems import system_spec

    report = evaluate(specs=[system_spec("prompted"), system_spec("trained")], split="dev", limit=3, offset=100,
                      scorer="none", data_dir=str(PRODUCT_DATA_DIR), progress=False)
    rows = report["systems"]
    assert set(rows) == {"prompted", "trained", "human", "rake-premise"}  # rake-premise: the storyline baseline
    for name, row in rows.items():
        assert set(row) == set(METRICS), name
        for metric in ("inclusion_guided", "inclusion_unguided", "antonym_inclusion", "repeat4", "odd_rate", "name_drift"):
            assert row[metric] is None or 0.0 <= row[metric] <= 1.0
    assert report["notes"]["adapter"] == str(DEFAULT_ADAPTER)
    # The trained generator has learned story sentences: the gold next sentence is far likelier.
    assert rows["trained"]["gold_ppl"] < rows["prompted"]["gold_ppl"]
    assert rows["trained"]["inclusion_guided"] >= 2 / 3
    assert rows["human"]["gold_ppl"] is None and rows["human"]["words_per_sentence"] > 5
    assert all(rows[name]["name_drift"] is not None for name in ("prompted", "trained", "human"))
