"""The edge that meets the LLM endpoint: owns ``openai.AsyncOpenAI`` and translates its errors.

Exactly one retry layer: the SDK is built with ``max_retries=0`` and an explicit timeout, and this
client retries transient failures itself (tenacity, short jittered backoff), behind a per-run
request budget and its own :class:`~crawler.decide.breaker.CircuitBreaker`, so a slow or broken
endpoint costs the crawl little. Structured output (``response_format`` json_schema) is asked for
when configured; a server that answers 400 because it lacks it is remembered for the rest of the run
and asked for plain JSON in the text instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from crawler.config import LLMConfig
from crawler.decide.breaker import CircuitBreaker
from crawler.errors import LLMError
from crawler.llm.prompts import Prompt
from crawler.llm.schema import response_format

__all__ = ["LLMClient", "LLMTransportError", "LLMUnavailable"]

log = logging.getLogger(__name__)

# Words in a 400's message that say the server cannot do json_schema response formats.
_STRUCTURED_UNSUPPORTED = ("response_format", "json_schema", "structured", "grammar", "schema")


class LLMTransportError(LLMError):
    """The request failed: transport, timeout, HTTP error status, or an unreadable response.

    ``transient`` failures (timeouts, connection errors, 429, 5xx) are worth a retry.
    """

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class LLMUnavailable(LLMError):
    """No request was sent: ``reason`` is ``"budget"`` (the run's calls are spent) or
    ``"breaker"`` (the LLM's circuit breaker is open)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"LLM unavailable: {reason}")
        self.reason = reason


def translate(exc: BaseException) -> LLMTransportError:
    """The one translation of a foreign exception met while calling the endpoint."""
    if isinstance(exc, LLMTransportError):
        return exc
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return LLMTransportError("LLM request timed out", transient=True)
    if isinstance(exc, openai.APIConnectionError):
        return LLMTransportError(f"LLM endpoint unreachable: {exc}", transient=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        transient = status == 429 or status >= 500
        return LLMTransportError(
            f"LLM endpoint answered HTTP {status}: {exc.message}",
            transient=transient,
            status=status,
        )
    if isinstance(exc, openai.OpenAIError):
        return LLMTransportError(f"LLM response unusable: {exc}", transient=False)
    return LLMTransportError(f"LLM call failed: {type(exc).__name__}: {exc}", transient=False)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, LLMTransportError) and exc.transient


class LLMClient:
    """One endpoint and model. ``async with`` it; :meth:`complete` returns the answer's text.

    ``requests`` counts requests sent (retries and the structured-output fallback included);
    ``latencies_s`` holds the duration of each request that got an answer.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout_s: float,
        max_retries: int,
        max_requests: int,
        structured_output: bool,
        breaker: CircuitBreaker,
        clock: Callable[[], float] = time.monotonic,
        retry_backoff_s: float = 0.25,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_tokens: int = 512,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_requests = max_requests
        self.structured_output = structured_output
        self.breaker = breaker
        self.requests = 0
        self.latencies_s: list[float] = []
        self._api_key = api_key
        self._clock = clock
        self._retry_backoff_s = retry_backoff_s
        self._sleep = sleep
        self._max_tokens = max_tokens
        self._client: openai.AsyncOpenAI | None = None

    async def __aenter__(self) -> LLMClient:
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._api_key,
            max_retries=0,  # one retry layer: ours
            timeout=self.timeout_s,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    @property
    def budget_left(self) -> int:
        return max(0, self.max_requests - self.requests)

    async def complete(
        self,
        prompt: Prompt,
        schema_name: str,
        schema: Mapping[str, Any],
        *,
        model: str | None = None,
    ) -> str:
        """The text of ``model``'s (default: the client's) answer to ``prompt``.

        Raises :class:`LLMUnavailable` when no request could be sent, :class:`LLMTransportError`
        when every attempt failed."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_random_exponential(
                multiplier=self._retry_backoff_s, max=self._retry_backoff_s * 8
            ),
            retry=retry_if_exception(_is_transient),
            sleep=self._sleep,
            reraise=True,
        )
        return await retrying(self._request, prompt, schema_name, schema, model or self.model)

    def _admit(self) -> None:
        if self.requests >= self.max_requests:
            raise LLMUnavailable("budget")
        if self.breaker.allow(self._clock()) is not None:
            raise LLMUnavailable("breaker")

    async def _request(
        self, prompt: Prompt, schema_name: str, schema: Mapping[str, Any], model: str
    ) -> str:
        if self._client is None:
            raise LLMError("LLMClient used outside its 'async with' block")
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ]
        while True:
            structured = self.structured_output
            self._admit()
            self.requests += 1
            started = self._clock()
            try:
                async with asyncio.timeout(self.timeout_s):
                    if structured:
                        completion = await self._client.chat.completions.create(
                            model=model,
                            messages=messages,
                            temperature=0,
                            max_tokens=self._max_tokens,
                            response_format=cast(
                                ResponseFormatJSONSchema, response_format(schema_name, schema)
                            ),
                        )
                    else:
                        completion = await self._client.chat.completions.create(
                            model=model,
                            messages=messages,
                            temperature=0,
                            max_tokens=self._max_tokens,
                        )
            except asyncio.CancelledError:
                self.breaker.on_cancel()
                raise
            except Exception as exc:
                error = translate(exc)
                if structured and error.status == 400 and _lacks_structured(error):
                    # The server answered; it just cannot constrain output. Ask in plain text.
                    self.structured_output = False
                    self.breaker.on_failure(self._clock(), counts=False)
                    log.warning(
                        "LLM endpoint %s does not support json_schema response_format; "
                        "asking for JSON in the text for the rest of the run",
                        self.base_url,
                    )
                    continue
                self.breaker.on_failure(self._clock())
                raise error from exc
            try:
                text = _content(completion)
            except LLMTransportError:
                self.breaker.on_failure(self._clock())
                raise
            self.latencies_s.append(self._clock() - started)
            self.breaker.on_success(self._clock())
            return text


def _lacks_structured(error: LLMTransportError) -> bool:
    text = str(error).lower()
    return any(word in text for word in _STRUCTURED_UNSUPPORTED)


def _content(completion: object) -> str:
    """The first choice's text ("" when there is none: validation then rejects it).

    The SDK does not validate the response's shape (a server may send ``"choices": "none"`` or
    a null message), so every step is checked here and a misshapen completion is one
    :class:`LLMTransportError`, never an AttributeError with a traceback in the log.
    """
    if not isinstance(completion, ChatCompletion):
        # A server that sends something other than a chat completion is broken, not wrong.
        raise LLMTransportError("LLM endpoint sent no chat completion", transient=False)
    choices: object = getattr(completion, "choices", None)
    if choices is None or choices == []:
        return ""
    if not isinstance(choices, list):
        raise LLMTransportError(
            f"LLM endpoint sent a malformed completion (choices is {type(choices).__name__})",
            transient=False,
        )
    message = getattr(choices[0], "message", None)
    content: object = getattr(message, "content", None)
    if content is None:
        return ""
    if not isinstance(content, str):
        raise LLMTransportError(
            f"LLM endpoint sent a malformed completion (content is {type(content).__name__})",
            transient=False,
        )
    return content


# Any non-empty key satisfies local servers (llama.cpp, Ollama, vLLM without --api-key); the SDK
# refuses an empty one.
LOCAL_API_KEY = "sk-no-key"


def _is_loopback(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_api_key(cfg: LLMConfig, env: Mapping[str, str]) -> tuple[str, str]:
    """``(api_key, "")`` when the LLM can be used, else ``("", why not)``."""
    if not cfg.enabled:
        return "", "[llm] enabled = false"
    if not cfg.base_url:
        return "", "no [llm] base_url configured"
    if not cfg.model:
        return "", "no [llm] model configured"
    key = cfg.resolved_api_key(env)
    if key:
        return key, ""
    if _is_loopback(cfg.base_url):
        return LOCAL_API_KEY, ""
    return "", f"no API key: set ${cfg.api_key_env} or [llm] api_key"
