"""Generation backends besides the in-process torch one: llama.cpp (CPU) and a vLLM server.

`engine.build.generator_for` picks one by name from `BACKEND_LOADERS` (`--backend auto|torch|llama-cpp|vllm`); all of
them subclass `engine.generator.BaseGenerator`, so the pipeline, the keyword predictor, the
CLI, the app and the evaluation use them alike. Nothing here is imported until asked for.
"""

# "auto" (the default): llama-cpp for a GGUF model on a machine without a GPU when llama.cpp loads,
# else torch (engine.build.auto_backend says which and why).
BACKENDS = ("auto", "torch", "llama-cpp", "vllm")


class BackendUnavailable(RuntimeError):
    """The generation server cannot be reached or failed mid-request; nothing was written."""
