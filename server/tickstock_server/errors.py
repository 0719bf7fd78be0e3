"""Domain errors. They import nothing from gRPC; `api/errors.py` maps them to status codes.

::

    TickstockError
    ├── InvalidRequestError          bad input, with field violations      -> INVALID_ARGUMENT
    ├── UnauthenticatedError         missing or invalid credentials        -> UNAUTHENTICATED
    ├── NotFoundError                unknown, or another user's, resource  -> NOT_FOUND
    ├── AlreadyExistsError                                                 -> ALREADY_EXISTS
    ├── LimitExceededError           a per-user limit would be exceeded    -> RESOURCE_EXHAUSTED
    ├── SubscriberOverloadedError    a slow subscriber's queue overflowed  -> RESOURCE_EXHAUSTED
    ├── NotSupportedError            a feature this server does not offer  -> UNIMPLEMENTED
    ├── NotReadyError                warming up or shutting down           -> UNAVAILABLE
    ├── DependencyUnavailableError   Redis or PostgreSQL unreachable       -> UNAVAILABLE
    └── FeedAuthenticationError      the market-data provider rejected our API key (fatal at start-up)
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
