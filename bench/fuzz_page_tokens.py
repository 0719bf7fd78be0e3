"""Forged page tokens for the request fuzz targets.

The page-token check is a hash any client can compute, so a token may carry any values of any shape;
the paged RPCs' mappers must still refuse the bad ones. A forged token is bound to the request as the
servicer binds it (the user "alice" for ListBacktests, as the request targets' stores hold).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from fuzz_inputs import ODD_INTS, ODD_STRINGS
from google.protobuf.message import DecodeError, Message

from tickstock_server.api.mappers._common import encode_page_token, request_binding

_TOKEN_BINDING: dict[str, tuple[str, ...]] = {
    "ListSymbols": (),
    "GetBars": (),
    "ScanPatterns": (),
    "ListBacktests": ("alice",),
}
"""Paged RPCs, and what their page tokens are bound to besides the request."""


def _odd_cursor(rng: random.Random) -> list[int | str]:
    values: list[int | str] = []
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 3, 4))):
        odd_number = rng.choice(("nan", "inf", "-inf", "1e999", "-0.0", "0.5", repr(rng.random())))
        values.append(rng.choice((rng.choice(ODD_INTS), rng.choice(ODD_STRINGS), odd_number)))
    return values


def with_forged_tokens(
    rpc: str, request_type: type[Message], generate: Callable[[random.Random], bytes]
) -> Callable[[random.Random], bytes]:
    """`generate`, with 30 % of a paged RPC's inputs given a page token of any values (others unchanged)."""
    context = _TOKEN_BINDING.get(rpc)
    if context is None:
        return generate

    def forge(rng: random.Random) -> bytes:
        raw = generate(rng)
        if rng.random() < 0.7:
            return raw
        try:
            request = request_type.FromString(raw)
        except DecodeError:
            return raw
        binding = request_binding(request, *context)
        request.page_token = encode_page_token(binding, tuple(_odd_cursor(rng)))
        return request.SerializeToString()

    return forge
