"""Request bytes that do not decode as the method's request message: refused as INVALID_ARGUMENT.

grpc-python answers a request its deserializer cannot read with INTERNAL ("Exception deserializing
request!"), which blames the server for the client's bytes. Our deserializer hands such a request on as
an `UndecodableRequest` instead, and the validation interceptor refuses it with INVALID_ARGUMENT before
any handler runs (after authentication, like every other check of a request).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf import message

from tickstock_server.errors import FieldViolation, InvalidRequestError


@dataclass(frozen=True, slots=True)
class UndecodableRequest:
    """Bytes that were not a valid `message_type`."""

    message_type: str
    size: int

    def error(self) -> InvalidRequestError:
        """The refusal: the whole request is the field at fault; its bytes are not echoed."""
        return InvalidRequestError(
            [
                FieldViolation(
                    "request",
                    f"{self.size} bytes that do not decode as a {self.message_type} message",
                )
            ]
        )


def tolerant_deserializer(
    message_class: type[message.Message],
) -> Callable[[bytes], message.Message | UndecodableRequest]:
    """`message_class.FromString`, returning an `UndecodableRequest` where it would raise."""
    name = message_class.DESCRIPTOR.full_name

    def deserialize(data: bytes) -> message.Message | UndecodableRequest:
        try:
            return message_class.FromString(data)
        except message.DecodeError:
            return UndecodableRequest(name, len(data))

    return deserialize
