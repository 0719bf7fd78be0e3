"""Session tokens: signed claims that expire, and nothing else passes for one."""

from __future__ import annotations

import pytest

from tickstock_server.domain.session_tokens import (
    MAX_TOKEN_CHARS,
    SessionClaims,
    issue_session_token,
    read_session_token,
)

SECRET = bytes(range(32))
NOW_NS = 1_800_000_000 * 1_000_000_000
CLAIMS = SessionClaims(user="alice", key_id="0123456789ab", expires_ns=NOW_NS + 3_600_000_000_000)


def test_a_token_reads_back_to_its_claims_until_it_expires() -> None:
    token = issue_session_token(CLAIMS, SECRET)

    assert token.startswith("tss_")
    assert read_session_token(token, SECRET, NOW_NS) == CLAIMS
    assert read_session_token(token, SECRET, CLAIMS.expires_ns - 1) == CLAIMS
    assert read_session_token(token, SECRET, CLAIMS.expires_ns) is None


def test_another_secret_does_not_verify_it() -> None:
    token = issue_session_token(CLAIMS, SECRET)

    assert read_session_token(token, bytes(32), NOW_NS) is None


def test_changed_claims_do_not_verify() -> None:
    token = issue_session_token(CLAIMS, SECRET)
    other = issue_session_token(
        SessionClaims(user="mallory", key_id=CLAIMS.key_id, expires_ns=CLAIMS.expires_ns), SECRET
    )
    forged = other.rpartition(".")[0] + "." + token.rpartition(".")[2]  # mallory's claims, alice's mac

    assert read_session_token(forged, SECRET, NOW_NS) is None


@pytest.mark.parametrize(
    "token",
    ["", "tss_", "tss_abc", "tss_!!!.???", "tsk_0123456789ab_secret", "tss_e30." + "A" * 43, "x" * 10_000],
)
def test_malformed_tokens_are_refused_without_raising(token: str) -> None:
    assert read_session_token(token, SECRET, NOW_NS) is None


def test_an_oversized_token_is_refused_even_when_well_signed() -> None:
    long_user = SessionClaims(user="a" * MAX_TOKEN_CHARS, key_id="k", expires_ns=CLAIMS.expires_ns)
    token = issue_session_token(long_user, SECRET)

    assert read_session_token(token, SECRET, NOW_NS) is None
