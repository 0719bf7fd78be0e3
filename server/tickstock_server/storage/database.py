"""PostgreSQL connection pool with bounded connect retries, and asyncpg-to-domain error translation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from tickstock_server.errors import DependencyUnavailableError

_logger = logging.getLogger(__name__)

# Failures worth another attempt while the server starts, restarts or is briefly saturated.
_RETRYABLE_CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, missing socket file, timeout (TimeoutError is an OSError)
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
)

# Errors meaning the database cannot be reached or the pool is gone, in use after connecting.
_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,  # e.g. "pool is closed"
)


async def create_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    idle_close_s: float = 300.0,
    connect_attempts: int = 10,
    retry_delay_s: float = 0.2,
    connect_timeout_s: float = 10.0,
) -> asyncpg.Pool:
    """Open a connection pool, retrying while the server may still be starting.

    Args:
        url: ``postgresql://`` URL; a unix socket directory goes in the ``host`` query parameter.
        min_size: Connections opened up front and kept open, however long idle.
        max_size: Most connections open at once.
        idle_close_s: Seconds after which a connection unused in the pool is closed (reopened on the
            next acquire), down to `min_size`; 0 never closes one.
        connect_attempts: Attempts before giving up; failures that retrying cannot fix (bad password,
            missing database) give up at once.
        retry_delay_s: Wait after the first failed attempt in seconds; doubles per attempt, at most 2 s.
        connect_timeout_s: Time limit of one connection attempt in seconds.

    Returns:
        The pool; the caller closes it.

    Raises:
        DependencyUnavailableError: No connection could be made. The message names the server but never
            the password.
    """
    if connect_attempts < 1:
        raise ValueError(f"connect_attempts must be at least 1, not {connect_attempts}")
    target = redact_url(url)
    delay_s = retry_delay_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                max_inactive_connection_lifetime=idle_close_s,
                timeout=connect_timeout_s,
            )
        except _RETRYABLE_CONNECT_ERRORS as exc:
            if attempt >= connect_attempts:
                raise DependencyUnavailableError(
                    f"cannot connect to PostgreSQL at {target} after {attempt} attempts"
                    f" ({type(exc).__name__})"
                ) from exc
            _logger.warning(
                "cannot connect to PostgreSQL at %s (attempt %d of %d, %s); retrying in %.1f s",
                target,
                attempt,
                connect_attempts,
                type(exc).__name__,
                delay_s,
            )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 2.0)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DependencyUnavailableError(
                f"cannot connect to PostgreSQL at {target} ({type(exc).__name__})"
            ) from exc


@contextlib.contextmanager
def map_asyncpg_errors() -> Iterator[None]:
    """Turn asyncpg errors meaning "database unreachable" into `DependencyUnavailableError`.

    Wrap the database calls of a store method in ``with map_asyncpg_errors():``.
    """
    try:
        yield
    except _UNAVAILABLE_ERRORS as exc:
        raise DependencyUnavailableError("PostgreSQL is unavailable") from exc


def redact_url(url: str) -> str:
    """Return `url` without its password (in the user info or a ``password`` query parameter)."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}@{hosts}" if at else hosts
    query = [
        (key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if "password" not in key
    ]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/")))
