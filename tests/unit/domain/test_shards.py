"""Shards: a stable assignment of symbols, "K/N" parsing, and the setting that selects one."""

from __future__ import annotations

import collections

import pytest
from pydantic import ValidationError

from tickstock_server.config import Settings
from tickstock_server.domain.shards import Shard, shard_of
from tickstock_server.simulation.market import synthetic_symbols


def test_a_symbols_shard_is_its_crc32_modulo_the_count_in_every_process() -> None:
    # Fixed values: a process with another hash seed, or another Python, must agree.
    assert [shard_of(symbol, 2) for symbol in ("AAPL", "MSFT", "NVDA", "SPY")] == [0, 1, 1, 1]
    assert shard_of("AAPL", 7) == 5


def test_shards_split_a_market_into_disjoint_roughly_equal_parts() -> None:
    symbols = synthetic_symbols(4000)
    shards = [Shard(index, 4) for index in range(4)]

    owners = [[shard.index for shard in shards if shard.owns(symbol)] for symbol in symbols]

    assert all(len(owner) == 1 for owner in owners)
    sizes = collections.Counter(owner[0] for owner in owners)
    assert min(sizes.values()) > 900


def test_the_only_shard_owns_every_symbol() -> None:
    assert Shard().owns("ANYTHING") and str(Shard()) == "0/1"


@pytest.mark.parametrize("spec", ["1/1", "2/2", "0/0", "0/65", "-1/2", "1", "a/b", "1/2/3", ""])
def test_a_shard_outside_0_to_n_or_not_k_slash_n_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="K/N"):
        Shard.parse(spec)


def test_the_shard_setting_parses_k_slash_n_and_needs_the_ingest_role() -> None:
    assert Settings(role="ingest", shard="1/2").shard == Shard(1, 2)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="needs role ingest"):
        Settings(role="gateway", shard="1/2")  # type: ignore[arg-type]


def test_the_shard_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKSTOCK_ROLE", "ingest")
    monkeypatch.setenv("TICKSTOCK_SHARD", "3/4")

    assert Settings().shard == Shard(3, 4)
