"""``crawler`` command line that counts its Redis round trips (for bench/workers.py).

    ROUNDTRIPS_FILE=/tmp/rt python bench/redis_probe.py run SEED ... --config redis.toml

redis-py sends every request, a single command or a whole pipeline, with one
``send_packed_command`` call: counting those calls counts round trips (connection handshakes
included). The count is written to ``$ROUNDTRIPS_FILE`` at exit.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Any

from redis.asyncio.connection import AbstractConnection

_sent = 0
_original = AbstractConnection.send_packed_command


async def _counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
    global _sent
    _sent += 1
    await _original(self, command, check_health)


def _report() -> None:
    path = os.environ.get("ROUNDTRIPS_FILE")
    if path:
        Path(path).write_text(str(_sent))


AbstractConnection.send_packed_command = _counted  # type: ignore[method-assign]
atexit.register(_report)

if __name__ == "__main__":
    from crawler.cli import main

    sys.exit(main(sys.argv[1:]))
