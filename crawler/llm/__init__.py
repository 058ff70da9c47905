"""The LLM layer: an OpenAI-compatible endpoint advising on the failures the rules cannot settle.

``manager.LLMManager`` is the entry point (it serves the ``crawler.decide.rules.Analyser``
interface); ``client`` owns the ``openai`` client, ``prompts`` the prompt files, ``schema`` the
one validator of answers, ``cache`` the verdict cache, and ``local`` an optional in-process
llama.cpp server for a small local model.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from crawler.config import LLMConfig
from crawler.errors import LLMError
from crawler.llm.cache import MemoryVerdictCache, StorageVerdictCache, VerdictCache
from crawler.llm.manager import LLMEvents, LLMManager, RecordAnalyser
from crawler.storage.base import Storage

__all__ = [
    "LLMEvents",
    "LLMManager",
    "MemoryVerdictCache",
    "RecordAnalyser",
    "StorageVerdictCache",
    "VerdictCache",
    "open_llm_manager",
]

log = logging.getLogger(__name__)


async def open_llm_manager(
    cfg: LLMConfig,
    stack: AsyncExitStack,
    storage: Storage,
    *,
    fallback: RecordAnalyser,
    max_wait_s: float | None = None,
    events: LLMEvents | None = None,
) -> LLMManager:
    """An entered :class:`LLMManager` whose verdicts are cached in ``storage`` (so a rerun over
    the same state dir pays for none again), closed with ``stack``. When the LLM is disabled or
    unconfigured it says so once (WARNING) and answers with ``fallback``'s analyses.

    With ``[llm] provider = "local"`` the bundled small model is started first (in-process
    llama.cpp, :class:`~crawler.llm.local.LocalModelServer`, stopped with ``stack``) and used
    as the endpoint; when it cannot start, the crawl says why and goes on with rules alone."""
    if cfg.provider == "local" and cfg.enabled:
        cfg = await _start_local(cfg, stack)
    manager = LLMManager(
        cfg,
        fallback=fallback,
        cache=StorageVerdictCache(storage),
        max_wait_s=max_wait_s,
        events=events,
    )
    return await stack.enter_async_context(manager)


async def _start_local(cfg: LLMConfig, stack: AsyncExitStack) -> LLMConfig:
    from crawler.llm.local import LocalModelServer

    try:
        base_url, model = await stack.enter_async_context(LocalModelServer())
    except LLMError as exc:
        log.warning("local model unavailable (%s): rules alone", exc)
        return cfg.model_copy(update={"enabled": False})
    log.info("local model %s started at %s", model, base_url)
    # A small model on a shared CPU answers in seconds, not milliseconds.
    timeout = max(cfg.timeout_s, 60.0)
    return cfg.model_copy(update={"base_url": base_url, "model": model, "timeout_s": timeout})
