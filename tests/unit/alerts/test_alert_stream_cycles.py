"""An alert stream is freed by reference counting, also after its queue overflowed (no reference
cycle, see `tests/cyclic_garbage.py`), and it still ends OVERLOADED and is counted once."""

from __future__ import annotations

from alert_fixtures import make_pattern
from cyclic_garbage import cyclic_garbage

from tickstock_server.alerts.stream import AlertStream, AlertStreamEnd
from tickstock_server.domain.alerts import Alert
from tickstock_server.support.mailbox import Mailbox


def test_an_overflowed_alert_stream_is_no_reference_cycle_and_still_ends_overloaded() -> None:
    overflows: list[int] = []
    alert = Alert(subscription_id="alrt_alice", pattern=make_pattern())
    with cyclic_garbage(AlertStream, Mailbox) as cycles:
        stream = AlertStream("alice", 1, on_overflow=lambda: overflows.append(1))
        for _ in range(3):
            stream.offer(alert)
        assert stream.end_reason is AlertStreamEnd.OVERLOADED
        assert stream.dropped == 2
        stream.close()
        del stream
    assert cycles == []
    assert overflows == [1]
