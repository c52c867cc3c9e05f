"""HTTP endpoints lakeops posts to (the alert webhook, Alertmanager, a Pushgateway): their URLs checked
once, and named in logs by scheme and host only, never by the path, query or token that may hold a secret.

Standard library only. Reads and writes nothing.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def check_url(url: str, *, env: str, base: bool) -> None:
    """Refuse a URL that is not http(s) with a host; with ``base``, also one with a query or fragment
    (an API's own path is appended to it). ``env`` names the variable it came from, for the message.

    Raises:
        ValueError: the URL does not qualify (the message holds no part of it but its scheme).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{env} must be an http(s) URL (got a value with scheme {parts.scheme!r})")
    if base and (parts.query or parts.fragment):
        raise ValueError(f"{env} must be a base URL, without a query or fragment")


def public_name(url: str) -> str:
    """What logs may say about an endpoint: its scheme, host and port."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
