"""The status table covers every error class of `errors.py`, or leaves it out on purpose."""

from __future__ import annotations

import inspect

import grpc
import pytest

from tickstock_server import errors
from tickstock_server.api.errors import UNMAPPED, mapped_errors, status_for

ERROR_CLASSES = [
    cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, BaseException)
]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_class_is_mapped_or_deliberately_unmapped(cls: type[BaseException]) -> None:
    assert (cls in mapped_errors()) != (cls in UNMAPPED)


@pytest.mark.parametrize("cls", [c for c in UNMAPPED if c is not errors.MessageRejectedError])
def test_unmapped_errors_become_internal(cls: type[BaseException]) -> None:
    assert status_for(cls("boom")).code is grpc.StatusCode.INTERNAL


def test_a_rejected_producer_message_becomes_internal() -> None:
    assert status_for(errors.MessageRejectedError("bad_symbol", "'x'")).code is grpc.StatusCode.INTERNAL
