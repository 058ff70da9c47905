"""The LLM layer: an OpenAI-compatible endpoint advising on the failures the rules cannot settle.

``manager.LLMManager`` is the entry point (it serves the ``crawler.decide.rules.Analyser``
interface); ``client`` owns the ``openai`` client, ``prompts`` the prompt files, ``schema`` the
one validator of answers, ``cache`` the verdict cache, and ``local`` an optional in-process
llama.cpp server for a small local model.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from crawler.llm.cache import MemoryVerdictCache, StorageVerdictCache, VerdictCache
from crawler.llm.manager import LLMManager, LLMSettings, RecordAnalyser
from crawler.storage.base import Storage

__all__ = [
    "LLMManager",
    "LLMSettings",
    "MemoryVerdictCache",
    "RecordAnalyser",
    "StorageVerdictCache",
    "VerdictCache",
    "open_llm_manager",
]


async def open_llm_manager(
    cfg: LLMSettings,
    stack: AsyncExitStack,
    storage: Storage,
    *,
    fallback: RecordAnalyser,
    max_wait_s: float | None = None,
) -> LLMManager:
    """An entered :class:`LLMManager` whose verdicts are cached in ``storage`` (so a rerun over
    the same state dir pays for none again), closed with ``stack``. When the LLM is disabled or
    unconfigured it says so once (WARNING) and answers with ``fallback``'s analyses."""
    manager = LLMManager(
        cfg, fallback=fallback, cache=StorageVerdictCache(storage), max_wait_s=max_wait_s
    )
    return await stack.enter_async_context(manager)
