"""The behaviour every ApiKeyStore must have, run against each implementation (memory and PostgreSQL).

Subclasses provide a `store` fixture; pytest collects the inherited tests for each of them.
"""

from __future__ import annotations

import pytest

from tickstock_server.domain.api_keys import Principal, parse_token
from tickstock_server.errors import InvalidRequestError
from tickstock_server.ports.auth import ApiKeyStore


class ApiKeyStoreContract:
    """Tests of the ApiKeyStore port."""

    async def test_created_key_verifies_to_its_principal(self, store: ApiKeyStore) -> None:
        # Arrange
        issued = await store.create("alice@example.com")

        # Act
        principal = await store.verify(issued.token)

        # Assert
        assert principal == Principal(user="alice@example.com", key_id=issued.key_id)

    async def test_keys_of_two_users_verify_to_their_own_user(self, store: ApiKeyStore) -> None:
        # Arrange
        alice = await store.create("alice")
        bob = await store.create("bob")

        # Act
        principals = [await store.verify(alice.token), await store.verify(bob.token)]

        # Assert
        assert principals == [
            Principal(user="alice", key_id=alice.key_id),
            Principal(user="bob", key_id=bob.key_id),
        ]

    async def test_wrong_secret_returns_none(self, store: ApiKeyStore) -> None:
        # Arrange
        issued = await store.create("alice")

        # Act
        principal = await store.verify(f"tsk_{issued.key_id}_{'A' * 43}")

        # Assert
        assert principal is None

    async def test_unknown_key_id_returns_none(self, store: ApiKeyStore) -> None:
        # Arrange
        issued = await store.create("alice")
        parts = parse_token(issued.token)
        assert parts is not None

        # Act
        principal = await store.verify(f"tsk_{'0' * 12}_{parts.secret}")

        # Assert
        assert principal is None

    @pytest.mark.parametrize("token", ["", "tsk_", "Bearer x", "tsk_0123456789ab_short"])
    async def test_malformed_token_returns_none(self, store: ApiKeyStore, token: str) -> None:
        # Act
        principal = await store.verify(token)

        # Assert
        assert principal is None

    async def test_revoked_key_returns_none(self, store: ApiKeyStore) -> None:
        # Arrange
        issued = await store.create("alice")

        # Act
        revoked = await store.revoke(issued.key_id)

        # Assert
        assert revoked is True
        assert await store.verify(issued.token) is None

    async def test_revoking_twice_or_unknown_key_returns_false(self, store: ApiKeyStore) -> None:
        # Arrange
        issued = await store.create("alice")
        await store.revoke(issued.key_id)

        # Act
        again = await store.revoke(issued.key_id)
        unknown = await store.revoke("0" * 12)

        # Assert
        assert again is False
        assert unknown is False

    @pytest.mark.parametrize("user", ["a", "A.b_c@d-e", "9" * 64])
    async def test_valid_user_name_creates_key(self, store: ApiKeyStore, user: str) -> None:
        # Act
        issued = await store.create(user)

        # Assert
        assert issued.user == user

    @pytest.mark.parametrize("user", ["", "a" * 65, "alice smith", "bob/x", "ünïcode", "eve\n"])
    async def test_invalid_user_name_raises_invalid_request_with_field_violation(
        self, store: ApiKeyStore, user: str
    ) -> None:
        # Act
        with pytest.raises(InvalidRequestError) as excinfo:
            await store.create(user)

        # Assert
        assert [violation.field for violation in excinfo.value.violations] == ["user"]

    async def test_a_key_is_active_until_revoked(self, store: ApiKeyStore) -> None:
        # Arrange
        issued = await store.create("alice")

        # Act
        before = await store.is_active(issued.key_id)
        await store.revoke(issued.key_id)
        after = await store.is_active(issued.key_id)

        # Assert
        assert (before, after) == (True, False)
        assert await store.is_active("0" * 12) is False

    async def test_the_session_secret_is_32_bytes_and_stays_the_same(self, store: ApiKeyStore) -> None:
        # Act
        first = await store.session_secret()
        second = await store.session_secret()

        # Assert
        assert len(first) == 32
        assert first == second

    async def test_revoked_returns_only_the_revoked_ones_of_the_given_ids(self, store: ApiKeyStore) -> None:
        # Arrange
        kept = await store.create("alice")
        gone = await store.create("alice")
        other_gone = await store.create("bob")
        await store.revoke(gone.key_id)
        await store.revoke(other_gone.key_id)

        # Act
        revoked = await store.revoked([kept.key_id, gone.key_id, "0" * 12])

        # Assert
        assert revoked == {gone.key_id}

    async def test_revoked_of_no_ids_is_empty(self, store: ApiKeyStore) -> None:
        # Act
        revoked = await store.revoked([])

        # Assert
        assert revoked == set()
