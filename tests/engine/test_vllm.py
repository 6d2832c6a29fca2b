"""Through a real vLLM server with the CNTRL plugin (the test script starts one): a story,
steering, streaming, candidates, concurrent writers, the served LoRA adapter, and a server
that goes away mid-sentence."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import torch

from engine.backends import BackendUnavailable
from engine.build import KnowledgeOptions, build_pipeline
from engine.loading import LoadConfig
from engine.types import SamplingParams, StoryContext
from tests.conftest import PRODUCT_DATA_DIR

pytestmark = [pytest.mark.vllm, pytest.mark.integration]


@pytest.fixture(scope="module")
def vllm_pipeline(vllm_url):
    return build_pipeline(LoadConfig(data_dir=str(PRODUCT_DATA_DIR), backend="vllm", server_url=vllm_url),
                          knowledge=KnowledgeOptions(enabled=False))


class CuttingProxy:
    """A loopback TCP proxy to the server; `cut_after` bytes of a response, then it drops both ends.

    Dropping the connection mid-stream is what the client sees when the server restarts
    or crashes during a sentence; `cut_after = None` passes everything through again.
    """

    def __init__(self, upstream: str):
        host, port = upstream.split("//", 1)[1].split("/", 1)[0].split(":")
        self.upstream = (host, int(port))
        self.cut_after: int | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            answered = [0]  # response bytes since the client last sent a request on this connection
            threading.Thread(target=self._pipe, args=(client, server, answered, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, answered, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, answered: list[int], is_response: bool) -> None:
        try:
            while chunk := src.recv(4096):
                if not is_response:
                    answered[0] = 0  # a new request on a kept-alive connection
                elif self.cut_after is not None and answered[0] + len(chunk) > self.cut_after:
                    dst.sendall(chunk[: max(0, self.cut_after - answered[0])])
                    break
                dst.sendall(chunk)
                if is_response:
                    answered[0] += len(chunk)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()


def test_a_story_written_and_steered_through_vllm(vllm_pipeline):
    """Three sentences from a premise; the steered one holds its keyword; the plugin runs."""
    context = StoryContext("Jennifer had a big exam tomorrow.")
    for keyword in ("library", "coffee", "grade"):
        step = vllm_pipeline.next_step(context, keywords=[keyword], params=SamplingParams(seed=2))
        assert step.backend["name"] == "vllm" and step.backend["guidance"] == "plugin"
        assert keyword in step.sentence.lower() and len(step.sentence.split()) >= 4
        context = StoryContext(context.premise, (*context.sentences, step.sentence))
    assert len(context.sentences) == 3


def test_vllm_server_steers_streams_and_keeps_requests_apart(vllm_pipeline):
    """Keywords appear in 4 candidates, streaming comes in pieces, concurrent writers get their own."""
    context = StoryContext("Tom let his friend borrow his phone.")
    step = vllm_pipeline.next_step(context, keywords=["dragon"], params=SamplingParams(seed=3, n_candidates=4))
    assert len(step.candidates) == 4 and all("dragon" in c.lower() for c in step.candidates)
    pieces = list(vllm_pipeline.stream_step(context, keywords=["river"], params=SamplingParams(seed=4)))
    text = "".join(p for p in pieces if isinstance(p, str))
    assert len([p for p in pieces if isinstance(p, str)]) > 2 and "river" in text.lower()
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda kw: vllm_pipeline.next_step(context, keywords=[kw], params=SamplingParams(seed=1)),
                        ["castle", "pizza"])
    assert "castle" in a.sentence.lower() and "pizza" in b.sentence.lower()
    assert "pizza" not in a.sentence.lower() and "castle" not in b.sentence.lower()


def test_the_served_lora_adapter_is_the_trained_one(vllm_url, default_pipeline):
    """The adapter name the client asks for gives the merged torch model's next token; the base differs."""
    tok = default_pipeline.generator.tokenizer
    ids = tok("Jennifer had a big exam tomorrow. She stayed up late to study. The next morning,",
              add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        want = default_pipeline.generator.model(input_ids=torch.tensor([ids])).logits[0, -1].topk(3).indices.tolist()

    def greedy(model: str, n: int) -> list[int]:
        body = {"model": model, "prompt": ids, "max_tokens": n, "temperature": 0.0, "logprobs": 1,
                "return_tokens_as_token_ids": True}  # tokens come back as "token_id:N"
        reply = httpx.post(f"{vllm_url}/completions", json=body, timeout=120).json()["choices"][0]
        return [int(t.split(":")[1]) for t in reply["logprobs"]["tokens"]]

    adapted, base = greedy("cntrl-smollm2", 20), greedy("cntrl-default", 20)
    assert adapted[0] in want
    assert adapted != base


def test_a_server_gone_mid_sentence_is_a_clear_error_and_loses_nothing(vllm_url, tmp_path):
    """The stream is cut after its first pieces: BackendUnavailable, nothing stored; then it works again."""
    from storage import (
        Provenance,
        append_node,
        create_story,
        create_user,
        load_story,
        make_engine,
        make_sessionmaker,
        upgrade,
    )

    proxy = CuttingProxy(vllm_url)
    try:
        pipeline = build_pipeline(LoadConfig(data_dir=str(PRODUCT_DATA_DIR), backend="vllm", server_url=proxy.url),
                                  knowledge=KnowledgeOptions(enabled=False))
        engine = make_engine(f"sqlite:///{tmp_path / 'stories.db'}")
        upgrade(engine=engine)
        factory = make_sessionmaker(engine)
        with factory.begin() as session:
            user = create_user(session, name="ann", password="secret").id
            story = create_story(session, user_id=user, title="T", premise="Tom found a map in the attic.").id
        context = StoryContext("Tom found a map in the attic.")
        first = pipeline.next_step(context, keywords=["treasure"], params=SamplingParams(seed=5))
        with factory.begin() as session:
            append_node(session, user_id=user, story_id=story, text=first.sentence,
                        provenance=Provenance.from_step(first.to_dict()))
        context = StoryContext(context.premise, (first.sentence,))

        proxy.cut_after = 1500  # headers and the first few streamed tokens, then the server is gone
        streamed: list[str] = []
        with pytest.raises(BackendUnavailable, match="mid-sentence.*nothing was saved"):
            for piece in pipeline.stream_step(context, keywords=["shovel"], params=SamplingParams(seed=6)):
                assert isinstance(piece, str), "no Step may come out of a cut stream"
                streamed.append(piece)
        assert streamed, "the cut must fall inside the sentence, after some text was streamed"
        with factory() as session:
            kept = load_story(session, user_id=user, story_id=story)
        assert [n.text for n in kept.nodes] == [first.sentence]
        assert kept.nodes[0].provenance.backend["name"] == "vllm"

        proxy.cut_after = None  # the server is back
        again = pipeline.next_step(context, keywords=["shovel"], params=SamplingParams(seed=6))
        assert "shovel" in again.sentence.lower()
        engine.dispose()
    finally:
        proxy.close()
