"""Conversions of `auth_service.proto`: the lifetime a CreateSessionToken request asks for."""

from __future__ import annotations

from tickstock.v1 import auth_service_pb2
from tickstock_server.errors import FieldViolation, InvalidRequestError

DEFAULT_TTL_S = 3600
"""Lifetime of a token when the request names none."""
MIN_TTL_S = 60
MAX_TTL_S = 12 * 3600


def ttl_s_from_proto(request: auth_service_pb2.CreateSessionTokenRequest) -> int:
    """The token lifetime asked for, in whole seconds (`DEFAULT_TTL_S` when unset).

    Raises:
        InvalidRequestError: The lifetime has a fraction of a second (field ``ttl``).
    """
    if not request.HasField("ttl"):
        return DEFAULT_TTL_S
    ttl = request.ttl
    # The proto's rules bound it to 60 s to 12 h (checked before the servicer); whole seconds are checked
    # here.
    if ttl.nanos != 0:
        raise InvalidRequestError(
            [FieldViolation("ttl", f"must be whole seconds from {MIN_TTL_S} s to {MAX_TTL_S} s")]
        )
    return int(ttl.seconds)
