"""A real OpenAI-compatible HTTP server on loopback that answers from a script and misbehaves on
demand, for tests of the LLM layer with the real ``openai`` client.

    async with OpenAIServer() as server:
        server.script(Answer({...}), Status(500), Stall(2.0))
        ... LLMManager(base_url=server.base_url ...) ...
        assert server.count == 3

Behaviours are consumed in order; when the script runs out, ``server.default`` answers. A
callable default gets the request body and returns a behaviour. Every request body is kept in
``server.requests`` (the prompts it received).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from crawler.web.serving import ServedApp

__all__ = ["Answer", "Behaviour", "OpenAIServer", "Raw", "Stall", "Status", "openai_server"]


@dataclass(frozen=True)
class Answer:
    """A 200 chat completion whose message content is ``content`` (a dict is JSON-encoded)."""

    content: str | dict[str, Any] | None


@dataclass(frozen=True)
class Status:
    """An OpenAI-style error response with HTTP ``status``."""

    status: int
    message: str = "scripted failure"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Raw:
    """A response body sent as is (e.g. not JSON at all)."""

    body: str
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class Stall:
    """Say nothing for ``seconds`` (past the client's timeout), then answer ``then``."""

    seconds: float
    then: Answer | None = None


Behaviour = Answer | Status | Raw | Stall

GOOD_ANALYSIS: dict[str, Any] = {
    "error_type": "access_denied",
    "severity": "medium",
    "description": "The server refuses access to this path.",
    "should_retry": False,
    "suggested_action": "give_up_url",
    "recovery_steps": ["Check whether the path needs credentials"],
    "wait_s": None,
}


def completion(content: str | None, model: str = "scripted") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class OpenAIServer:
    """``POST /v1/chat/completions`` on 127.0.0.1, answering from a script.

    ``reject_json_schema``: answer 400 to a request whose ``response_format`` is ``json_schema``,
    as servers without structured output do.
    """

    def __init__(
        self,
        default: Behaviour | Callable[[dict[str, Any]], Behaviour] | None = None,
        *,
        reject_json_schema: bool = False,
    ) -> None:
        self.default: Behaviour | Callable[[dict[str, Any]], Behaviour] = default or Answer(
            GOOD_ANALYSIS
        )
        self.reject_json_schema = reject_json_schema
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        self.base_url = ""
        self._script: deque[Behaviour] = deque()
        self._served: ServedApp | None = None

    @property
    def count(self) -> int:
        """Requests received."""
        return len(self.requests)

    def script(self, *behaviours: Behaviour) -> None:
        self._script.extend(behaviours)

    def prompts(self) -> list[str]:
        """The text of every message received, request by request."""
        return [
            "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            for body in self.requests
        ]

    async def __aenter__(self) -> OpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        served = ServedApp(app, shutdown_timeout=0.1)
        self._served = await served.__aenter__()
        self.base_url = served.url("/v1")
        return self

    async def __aexit__(self, *exc: object) -> None:
        served, self._served = self._served, None
        if served is not None:
            await served.__aexit__(None, None, None)

    def _next(self, body: dict[str, Any]) -> Behaviour:
        if self._script:
            return self._script.popleft()
        return self.default(body) if callable(self.default) else self.default

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.authorizations.append(request.headers.get("Authorization", ""))
        fmt = body.get("response_format") or {}
        if self.reject_json_schema and fmt.get("type") == "json_schema":
            return _error(400, "response_format type json_schema is not supported by this server")
        behaviour = self._next(body)
        if isinstance(behaviour, Stall):
            await asyncio.sleep(behaviour.seconds)
            behaviour = behaviour.then or Answer(GOOD_ANALYSIS)
        if isinstance(behaviour, Status):
            return _error(behaviour.status, behaviour.message, dict(behaviour.headers))
        if isinstance(behaviour, Raw):
            return web.Response(
                status=behaviour.status, text=behaviour.body, content_type=behaviour.content_type
            )
        content = behaviour.content
        text = json.dumps(content) if isinstance(content, dict) else content
        return web.json_response(completion(text, str(body.get("model", ""))))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    payload = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return web.json_response(payload, status=status, headers=headers)


@pytest.fixture
async def openai_server() -> AsyncIterator[OpenAIServer]:
    """A scripted OpenAI-compatible server; answers a valid analysis by default."""
    async with OpenAIServer() as server:
        yield server
