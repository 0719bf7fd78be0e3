from __future__ import annotations

import re

import pytest

from tickstock_server.domain.api_keys import TokenParts, hash_secret, new_token, parse_token, secret_matches


def test_new_token_has_documented_format_and_matching_parts() -> None:
    # Act
    token, parts = new_token()

    # Assert
    assert re.fullmatch(r"tsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    assert token == f"tsk_{parts.key_id}_{parts.secret}"


def test_new_tokens_differ() -> None:
    # Act
    tokens = {new_token()[0] for _ in range(100)}

    # Assert
    assert len(tokens) == 100


def test_well_formed_token_parses_to_its_parts() -> None:
    # Arrange
    token, parts = new_token()

    # Act
    parsed = parse_token(token)

    # Assert
    assert parsed == parts
    assert isinstance(parsed, TokenParts)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "tsk_",
        "tsk_0123456789ab",
        "tsk_0123456789ab_" + "A" * 42,
        "tsk_0123456789ab_" + "A" * 44,
        "tsk_0123456789AB_" + "A" * 43,
        "tsk_0123456789a_" + "A" * 43,
        "TSK_0123456789ab_" + "A" * 43,
        "tsk_0123456789ab_" + "A" * 42 + "=",
        "tsk_0123456789ab_" + "A" * 43 + "\n",
        " tsk_0123456789ab_" + "A" * 43,
        "Bearer tsk_0123456789ab_" + "A" * 43,
    ],
)
def test_malformed_token_parses_to_none(token: str) -> None:
    # Act
    parsed = parse_token(token)

    # Assert
    assert parsed is None


def test_hash_is_hex_sha256_and_not_the_secret() -> None:
    # Arrange
    _, parts = new_token()

    # Act
    digest = hash_secret(parts.secret)

    # Assert
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert parts.secret not in digest


def test_secret_matches_its_own_hash() -> None:
    # Arrange
    _, parts = new_token()
    stored = hash_secret(parts.secret)

    # Act
    matches = secret_matches(parts.secret, stored)

    # Assert
    assert matches is True


def test_other_secret_does_not_match_hash() -> None:
    # Arrange
    _, parts = new_token()
    _, other = new_token()
    stored = hash_secret(parts.secret)

    # Act
    matches = secret_matches(other.secret, stored)

    # Assert
    assert matches is False
