"""Test scaffolding for the observe layer: a port where nothing listens (a dead host)."""

from __future__ import annotations

import socket


def dead_port(host: str = "127.0.0.3") -> int:
    """A port on ``host`` where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
