"""A short run of every fuzz target of `bench/fuzz.py` (the long run is in docs/fuzzing.md).

A fixed seed, so a failure reproduces with `bench/fuzz.py --seed 17 --inputs N --targets NAME`.
"""

import logging

import pytest
from fuzz import TARGETS
from fuzz_ids import ID_RPCS
from fuzz_requests import CORPUS
from fuzz_target import run_target

SEED = 17
INPUTS = 1000
SLOW_TARGETS = {"replay_recording": 200}
"""Targets whose input is a whole file: fewer inputs keep the run in seconds."""


@pytest.fixture(autouse=True)
def _quiet() -> object:
    # The product logs each rejection reason at WARNING (rate-limited); thousands of inputs are noise.
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_never_crashes_and_every_rejection_is_counted(name: str) -> None:
    # Arrange
    inputs = SLOW_TARGETS.get(name, INPUTS)

    # Act
    outcome = run_target(name, TARGETS[name], inputs, SEED)

    # Assert: no crash; the product's counters hold every rejection; and the inputs were neither all
    # rejected nor all accepted, so the run reached past the first checks.
    assert outcome.crash == ""
    assert (outcome.inputs, outcome.crashes, outcome.uncounted) == (inputs, 0, 0)
    assert 0 < outcome.rejected_inputs < inputs


@pytest.mark.parametrize("rpc", sorted(CORPUS))
def test_every_request_of_the_corpus_is_accepted(rpc: str) -> None:
    # The mutations start from these: a corpus the validators refuse would fuzz only the first check.
    target = TARGETS[f"request_{rpc}"]()
    try:
        rejections = [target.run(request.SerializeToString()) for request in CORPUS[rpc]]
    finally:
        target.close()

    assert rejections == [0] * len(CORPUS[rpc])


@pytest.mark.parametrize("rpc", sorted(ID_RPCS))
def test_an_id_target_accepts_the_callers_id_and_refuses_the_other_users(rpc: str) -> None:
    # The target's own check of each answer raises for a wrong one; both ids must get past it.
    target = TARGETS[f"request_{rpc}"]()
    ids = ID_RPCS[rpc].ids
    try:
        rejections = [
            target.run(ID_RPCS[rpc].request(ids[user]).SerializeToString()) for user in ("alice", "bob")
        ]
    finally:
        target.close()

    assert rejections == [0, 1]
