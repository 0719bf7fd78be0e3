"""Domain errors, every one the server defines. They import nothing from gRPC; `api/errors.py` maps them.

::

    Exception
    ├── TickstockError
    │   ├── InvalidRequestError          bad input, with field violations      -> INVALID_ARGUMENT
    │   ├── UnauthenticatedError         missing or invalid credentials        -> UNAUTHENTICATED
    │   ├── AuthThrottledError           too many failed authentications       -> RESOURCE_EXHAUSTED
    │   ├── NotFoundError                unknown, or another user's, resource  -> NOT_FOUND
    │   ├── AlreadyExistsError                                                 -> ALREADY_EXISTS
    │   ├── LimitExceededError           a per-user limit would be exceeded    -> RESOURCE_EXHAUSTED
    │   ├── SubscriberOverloadedError    a slow subscriber's queue overflowed  -> RESOURCE_EXHAUSTED
    │   ├── NotSupportedError            a feature this server does not offer  -> UNIMPLEMENTED
    │   ├── NotReadyError                warming up or shutting down           -> UNAVAILABLE
    │   ├── DependencyUnavailableError   Redis or PostgreSQL unreachable       -> UNAVAILABLE
    │   │   (fatal at start-up or in a command; never raised by an RPC, so INTERNAL if one ever is:)
    │   ├── FeedAuthenticationError      the market-data provider rejected our API key
    │   ├── EmbeddedServerError          an embedded Redis or PostgreSQL did not start
    │   ├── EnvoyError                   Envoy could not be found or did not start
    │   ├── SupervisorError              `supervise` could not start its processes
    │   ├── MigrationError               the schema cannot be brought up to date
    │   ├── SeedDataError                the packaged seed data files are malformed
    │   ├── MassiveRestError             a Massive REST request of the loader failed for good
    │   └── LoadError                    a backfill chunk could not be written
    └── MessageRejectedError             a producer message failed validation (untrusted input: its
                                         text is for logs only, so it is no TickstockError)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class TickstockError(Exception):
    """Base of every error the service raises on purpose. The message is safe to show to clients."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field of a request."""

    field: str
    """Path of the field, e.g. "filter.symbols[2]"."""
    description: str
    """What is wrong, for the client developer."""


class InvalidRequestError(TickstockError):
    """The request is malformed; `violations` says which fields and why."""

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))


class UnauthenticatedError(TickstockError):
    """The call carries no valid API key."""


class AuthThrottledError(TickstockError):
    """The caller's address failed to authenticate too often; it may try again after `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        """Seconds until the address may try again."""
        super().__init__(
            "too many failed authentications from this address; retry after the delay in RetryInfo"
        )


class NotFoundError(TickstockError):
    """The resource does not exist or belongs to another user."""


class AlreadyExistsError(TickstockError):
    """A resource with that name already exists."""


class LimitExceededError(TickstockError):
    """A per-user limit (streams, symbols) would be exceeded."""


class SubscriberOverloadedError(TickstockError):
    """A subscriber reads too slowly and its bounded queue overflowed."""


class NotSupportedError(TickstockError):
    """The request asks for a feature this server version does not offer."""


class NotReadyError(TickstockError):
    """The server is warming up or shutting down; retry later."""


class DependencyUnavailableError(TickstockError):
    """Redis or PostgreSQL is unreachable; retry later."""


class FeedAuthenticationError(TickstockError):
    """The market-data provider rejected our API key. Fatal: retrying cannot fix a wrong key."""


class EmbeddedServerError(TickstockError):
    """An embedded server failed to start."""


class EnvoyError(TickstockError):
    """Envoy could not be found or did not start."""


class SupervisorError(TickstockError):
    """A supervised process did not start (it exited, or was not ready in time), or its port is taken."""


class MigrationError(TickstockError):
    """The schema cannot be brought up to date: unknown versions in the database, or bad migration files."""


class SeedDataError(TickstockError):
    """The seed data files are malformed or inconsistent (a fault of the release, not of the database)."""


class MassiveRestError(TickstockError):
    """A REST request failed: a non-retryable status, or every attempt allowed failed."""


class LoadError(TickstockError):
    """A chunk could not be written (its bars stayed unwritten while PostgreSQL was unavailable)."""


class MessageRejectedError(Exception):
    """A producer message failed validation; `reason` (one of `messages.REJECT_REASONS`) says why.

    Not a `TickstockError`: a rejected message is an expected outcome for untrusted input, not a fault,
    and its text quotes that input, so it is never shown to a client.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        """Short, stable reason, e.g. "bad_confidence"."""
        self.detail = detail
        """Human-readable specifics for the log (never part of a metric label)."""
