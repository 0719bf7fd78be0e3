"""Service processes SIGKILLed and restarted while clients stream: a gateway, then the ingest. Clients
resume on the other gateway; what the killed ingest could not deliver is reported as a gap."""

from __future__ import annotations

from fault_run import Figure, assert_no_bar_lost, now_s, watched

from tickstock.v1 import event_service_pb2


async def test_a_sigkilled_gateway_restarts_and_its_clients_resume_with_zero_loss(
    pg_database_url: str, redis_url: str, figure: Figure
) -> None:
    async with watched(pg_database_url, redis_url) as watch:
        gateway = watch.topology.gateways[0]
        await gateway.killed()
        killed_s = now_s()
        await gateway.start()
        end_s = now_s()
        await watch.recovered(end_s)

    watch.assert_exactly_once()
    assert [client.state.gaps for client in watch.clients] == [[], []]
    assert watch.health.seen["gateway0"][-2:] == ["UNREACHABLE", "SERVING"]
    watch.report(figure, "gateway_sigkill", end_s)
    figure("gateway_sigkill_restart", end_s - killed_s, "s")


async def test_a_sigkilled_ingest_restarts_and_clients_are_told_what_it_could_not_deliver(
    pg_database_url: str, redis_url: str, figure: Figure
) -> None:
    async with watched(pg_database_url, redis_url) as watch:
        await watch.topology.ingest.killed()
        await watch.topology.ingest.start()
        end_s = now_s()
        await watch.recovered(end_s)
        bars = await assert_no_bar_lost(watch.topology, pg_database_url)

    watch.assert_exactly_once()
    for client in watch.clients:
        # The synthetic feed starts its history again: a new epoch, told to every client.
        assert [gap.reason for gap in client.state.gaps] == [event_service_pb2.GAP_REASON_EPOCH_CHANGED]
    watch.report(figure, "ingest_sigkill", end_s)
    figure("ingest_sigkill_bars_stored", bars, "bars")


async def test_a_sigkilled_ingest_that_continues_its_epoch_never_reuses_a_seq_it_may_have_issued(
    pg_database_url: str, redis_url: str, figure: Figure
) -> None:
    async with watched(pg_database_url, redis_url, continued_feed=True) as watch:
        epoch = watch.clients[0].received[-1].epoch
        await watch.topology.ingest.killed()
        await watch.topology.ingest.start()
        end_s = now_s()
        await watch.recovered(end_s)

    watch.assert_exactly_once()
    for client in watch.clients:
        assert {item.epoch for item in client.received} == {epoch}
        # The seqs after the last stored one were reserved by the dead ingest, issued or not: they are
        # skipped, told as one gap, and the new ingest's events continue after them.
        [gap] = client.state.gaps
        assert gap.reason == event_service_pb2.GAP_REASON_NOT_PERSISTED
        seqs = {item.seq for item in client.received}
        assert gap.from_seq - 1 in seqs and gap.to_seq + 1 in seqs
        assert not any(gap.from_seq <= seq <= gap.to_seq for seq in seqs)
    watch.report(figure, "ingest_sigkill_continued", end_s)
    figure("ingest_sigkill_continued_skipped", gap.to_seq - gap.from_seq + 1, "seqs")
