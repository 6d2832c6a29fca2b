"""Generation backends besides the in-process torch one: llama.cpp (CPU) and a vLLM server.

`engine.build.generator_for` picks one by name from `BACKEND_LOADERS` (`--backend torch|vllm|llama-cpp`); all of
them subclass `engine.generator.BaseGenerator`, so the pipeline, the keyword predictor, the
CLI, the app and the evaluation use them alike. Nothing here is imported until asked for.
"""

BACKENDS = ("torch", "llama-cpp", "vllm")


class BackendUnavailable(RuntimeError):
    """The generation server cannot be reached or failed mid-request; nothing was written."""
