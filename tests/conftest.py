"""Fixtures shared by every test: offline hubs, fixed seeds, a private sessions database,
a tiny random model, and (for integration tests) the real default pipeline."""

from __future__ import annotations

import os
import random

import pytest

from engine import paths

# Read before any fixture moves the data directory: the default model's converted copy
# and the WordNet store that `scripts/setup.sh` prepared live here.
PRODUCT_DATA_DIR = paths.data_dir()
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def fixed_seeds_and_private_db(tmp_path, monkeypatch):
    """Seed every RNG and keep tests away from the user's sessions database."""
    import torch

    random.seed(0)
    torch.manual_seed(0)
    if not os.environ.get("CNTRL_KEEP_DATABASE_URL"):
        monkeypatch.setenv("CNTRL_DATABASE_URL", f"sqlite:///{tmp_path / 'stories-test.db'}")
    yield


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(model, tokenizer) of a 2-layer random Llama with a word-level tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.testing import save_tiny_llama

    path = save_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    return model, tokenizer


@pytest.fixture
def tiny_generator(tiny_model):
    from engine.generator import Generator, GeneratorConfig

    model, tokenizer = tiny_model
    return Generator(model, tokenizer, "tiny-llama", GeneratorConfig.from_name("tiny"))


@pytest.fixture(scope="session")
def default_pipeline():
    """The real default model on torch with the default knowledge base (integration tests only;
    the torch path is the reference the other backends are checked against)."""
    from engine.build import build_pipeline
    from engine.loading import LoadConfig

    return build_pipeline(LoadConfig(data_dir=str(PRODUCT_DATA_DIR), backend="torch"))


@pytest.fixture(scope="session")
def vllm_url():
    """The test vLLM server's URL (CNTRL_VLLM_URL), once it answers; skips when none is set."""
    import time

    import httpx

    url = os.environ.get("CNTRL_VLLM_URL")
    if not url:
        pytest.skip("no vLLM server (bash scripts/vllm_server.sh start, then set CNTRL_VLLM_URL)")
    deadline = time.monotonic() + float(os.environ.get("CNTRL_VLLM_WAIT_S", "420"))
    last = ""
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url.rstrip('/')}/models", timeout=5).status_code == 200:
                return url
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(2)
    pytest.fail(f"the vLLM server at {url} did not get ready ({last}); see .venv-vllm/server.log")


@pytest.fixture
def browser():
    """Debian's headless Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    from tests.app.helpers import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
