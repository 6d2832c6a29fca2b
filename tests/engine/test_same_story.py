"""The same seed and settings give the same story: recorded tokens of the tiny random model.

`RECORDED` was written by the engine before the token loop, the loader and the builder were cut
into named parts; the public path (`build_pipeline` on the `tiny` load preset, the torch backend,
each keyword predictor) must still write exactly these sentences, token for token. The tiny
model's weights come from `torch.manual_seed(0)`, so a torch release that draws its random
initialisation differently would need the record written again (on unchanged engine code).
"""

from __future__ import annotations

import pytest

from engine.backends import BACKENDS
from engine.bible import LoreEntry
from engine.build import (
    BACKEND_LOADERS,
    PREDICTORS,
    KnowledgeOptions,
    build_pipeline,
    make_predictor,
)
from engine.generator import GeneratorConfig
from engine.keyword_predictor import KeywordPrediction
from engine.loading import LoadConfig
from engine.types import SamplingParams, StoryContext

PREMISE = "Tom let his friend borrow his phone."
OVERRIDES = [["battery"], None, ["store", "car"]]
PARAMS = SamplingParams(seed=11, n_candidates=2, max_new_tokens=16, alternatives=2)
BIBLE_CONTEXT = StoryContext("Mary went to the park.", ("The dog ran.",),
                             bible=(LoreEntry("Rex", ("dog",), "Rex is an old dog.", entry_id=1),))
BIBLE_PARAMS = SamplingParams(seed=3, temperature=0.0, max_new_tokens=12)

# predictor -> per sentence: (keywords, where they came from, facts, candidates, token ids per candidate)
RECORDED = {
    "model": [
        (["battery"], "given", [],
         ["Z dog henew&hdid noth Bh d bq new*.", "L l K looked SK ^ money smalldogwork battery."],
         [[180, 38, 13, 126, 196, 136, 85, 23, 136, 249, 136, 225, 223, 145, 63, 200],
          [233, 233, 258, 56, 266, 165, 309, 48, 66, 101, 109, 30, 204]]),
        (["friendsfriend he"], "predicted", [],
         ["R@@&QI walked day> small x b 3 )p ).", "Night diedu flatCof / *it calledof O x."],
         [[146, 212, 212, 196, 171, 163, 55, 43, 210, 66, 245, 223, 277, 292, 144, 292],
          [107, 31, 149, 36, 157, 72, 298, 293, 79, 57, 72, 262, 245, 225, 292, 90]]),
        (["store", "car"], "given", [],
         ["@ f X ,g sad got in&n ingothome6!", "S|ystoreI to moneyphone very on G b z!"],
         [[212, 227, 271, 295, 135, 42, 20, 10, 196, 142, 10, 83, 108, 187, 191],
          [147, 220, 153, 96, 163, 8, 48, 92, 60, 11, 254, 223, 247, 191]]),
        (["dog"], "rake-fallback", ["Rex is an old dog."],
         ["Dogggggggggg."],
         [[158, 143, 135, 135, 135, 135, 135, 135, 135, 135, 135, 135]]),
    ],
    "rake": [
        (["battery"], "given", [],
         ["Z dog henew&hdid noth Bh d bq new*.", "L l K looked SK ^ money smalldogwork battery."],
         [[180, 38, 13, 126, 196, 136, 85, 23, 136, 249, 136, 225, 223, 145, 63, 200],
          [233, 233, 258, 56, 266, 165, 309, 48, 66, 101, 109, 30, 204]]),
        (["new", "hdid"], "rake", [],
         ["< new newx her0@Erain said+ mary<not~.", "Night went car very Aspbut s` L onfriendP."],
         [[208, 63, 63, 152, 13, 146, 181, 212, 159, 100, 59, 201, 27, 208, 86, 222],
          [44, 19, 34, 60, 248, 147, 144, 87, 240, 218, 259, 11, 91, 170, 259, 70]]),
        (["store", "car"], "given", [],
         ["WentQ smallran friend bought d got found n #UOshe park [.", "Or wantedI ranH U 0 01homeTq."],
         [[19, 171, 66, 117, 28, 49, 225, 20, 50, 235, 286, 175, 169, 77, 40, 306],
          [169, 146, 53, 163, 54, 162, 268, 274, 274, 182, 108, 174, 145, 299, 12, 187]]),
        (["dog", "ran"], "rake", ["Rex is an old dog."],
         ["Rannnnnnnnnn."],
         [[172, 68, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142]]),
    ],
}


def _written(pipeline) -> list[tuple]:
    steps = pipeline.write_story(PREMISE, n_sentences=3, keyword_overrides=OVERRIDES, params=PARAMS)
    steps.append(pipeline.next_step(BIBLE_CONTEXT, params=BIBLE_PARAMS))
    return [(s.keywords, s.keywords_source, [f.fact.sentence for f in s.facts], s.candidates,
             [[choice.token_id for choice in row] for row in s.tokens]) for s in steps]


@pytest.mark.parametrize("predictor", sorted(RECORDED))
def test_the_same_seed_writes_the_recorded_story(predictor, tmp_path):
    pipeline = build_pipeline(LoadConfig.from_name("tiny", data_dir=str(tmp_path)),
                              knowledge=KnowledgeOptions(enabled=False), predictor=predictor,
                              generator_config=GeneratorConfig.from_name("tiny"))
    assert _written(pipeline) == RECORDED[predictor]


def test_every_backend_name_has_a_loader_and_build_uses_the_registry(tiny_generator, monkeypatch):
    assert set(BACKEND_LOADERS) == set(BACKENDS) - {"auto"}  # auto picks one of the others
    asked = []
    monkeypatch.setitem(BACKEND_LOADERS, "torch", lambda load, config: asked.append(load.model) or tiny_generator)
    pipeline = build_pipeline(LoadConfig(model="stand-in", backend="torch"), knowledge=KnowledgeOptions(enabled=False))
    assert asked == ["stand-in"] and pipeline.generator is tiny_generator


def test_predictors_come_from_the_registry(tiny_generator, monkeypatch):
    class Fixed:
        def predict(self, context, seed=None):
            return KeywordPrediction(["harbor"], "", "fixed", seed or 0)

    monkeypatch.setitem(PREDICTORS, "fixed", lambda generator: Fixed())
    assert make_predictor("fixed", tiny_generator).predict(BIBLE_CONTEXT).keywords == ["harbor"]
    with pytest.raises(ValueError, match="unknown keyword predictor 'nope'"):
        make_predictor("nope", tiny_generator)
