"""``gatepack serve``: the evidence API, the board and /metrics over one store (issue 15)."""

from collector.server.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
