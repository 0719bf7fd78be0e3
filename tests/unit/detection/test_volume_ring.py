from hypothesis import given
from hypothesis import strategies as st

from tickstock_server.detection.event_fields import MAX_STORED_VOLUME
from tickstock_server.detection.volume_ring import VolumeRing


@given(
    capacity=st.integers(min_value=1, max_value=25),
    volumes=st.lists(st.integers(min_value=0, max_value=10**12), max_size=80),
)
def test_the_ring_holds_the_sum_and_count_of_the_last_capacity_volumes(
    capacity: int, volumes: list[int]
) -> None:
    ring = VolumeRing(capacity)

    for volume in volumes:
        ring.add(volume)

    last = volumes[-capacity:]
    assert (ring.count, ring.total) == (len(last), sum(last))


def test_clear_empties_the_ring_and_it_fills_again() -> None:
    ring = VolumeRing(3)
    for volume in (5, 6, 7, 8):
        ring.add(volume)

    ring.clear()
    ring.add(9)

    assert (ring.count, ring.total) == (1, 9)


def test_a_volume_beyond_64_bits_is_stored_saturated() -> None:
    ring = VolumeRing(2)

    ring.add(2**70)
    ring.add(1)

    assert (ring.count, ring.total) == (2, MAX_STORED_VOLUME + 1)
