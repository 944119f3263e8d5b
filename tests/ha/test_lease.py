"""The lease's pure rules (acd.ha.lease): who may take it, how long a leader may act."""

from __future__ import annotations

import pytest

from acd.ha.lease import LeaderLease, LeaseError, LeaseRow, LeaseTerms, Move, standby_move

TERMS = LeaseTerms(lease_s=5.0, renew_s=1.0)


def row(expires_at: float, db_now: float) -> LeaseRow:
    return LeaseRow(holder="node-a", epoch=7, expires_at=expires_at, db_now=db_now)


def test_a_free_lock_is_taken_even_before_the_row_expires() -> None:
    # the leader's session is gone (kill -9): the server freed its lock, no need to wait out the lease
    assert standby_move(True, row(expires_at=110.0, db_now=100.0)) is Move.TAKE


def test_a_held_lock_with_a_live_row_is_waited_for() -> None:
    assert standby_move(False, row(expires_at=100.5, db_now=100.0)) is Move.WAIT
    assert standby_move(False, None) is Move.WAIT


def test_a_held_lock_whose_row_expired_is_evicted() -> None:
    # alive but stuck (paused): it keeps its connection and lock, but stopped renewing
    assert standby_move(False, row(expires_at=100.0, db_now=100.0)) is Move.EVICT
    assert standby_move(False, row(expires_at=90.0, db_now=100.0)) is Move.EVICT


def test_a_leader_acts_only_until_its_lease_less_a_margin_from_its_last_renewal_sent() -> None:
    leader = LeaderLease(TERMS, epoch=3, renew_sent_at=1000.0)
    assert leader.refusal(1000.0) is None
    assert leader.refusal(1003.9) is None
    # lease_s 5 less the safety margin (0.5): refused before the server's row can expire
    assert leader.valid_until() == pytest.approx(1004.5)
    refusal = leader.refusal(1004.5)
    assert refusal is not None and "epoch 3" in refusal and "not renewed" in refusal


def test_a_renewal_pushes_the_limit_from_when_it_was_sent() -> None:
    leader = LeaderLease(TERMS, epoch=3, renew_sent_at=1000.0)
    leader.renewed(1003.0)
    assert leader.refusal(1007.0) is None
    assert leader.refusal(1007.5) is not None
    leader.renewed(1001.0)  # a late answer to an older renewal never moves the limit back
    assert leader.valid_until() == pytest.approx(1007.5)


def test_a_paused_leader_waking_up_is_refused_before_it_renews() -> None:
    leader = LeaderLease(TERMS, epoch=3, renew_sent_at=1000.0)
    assert leader.renew_due(1001.0)
    assert leader.refusal(1030.0) is not None  # 30 s frozen: the standby has long taken over


def test_a_lost_lease_stays_lost_even_if_a_renewal_answer_arrives() -> None:
    leader = LeaderLease(TERMS, epoch=3, renew_sent_at=1000.0)
    leader.lost("taken over")
    leader.renewed(1000.5)
    assert leader.refusal(1000.6) == "taken over"
    leader.lost("something else")
    assert leader.lost_reason == "taken over"


@pytest.mark.parametrize(("lease_s", "renew_s"), [(5.0, 2.0), (5.0, 0.0), (1.0, 1.0)])
def test_timings_where_a_late_renewal_loses_the_lease_are_refused(lease_s: float, renew_s: float) -> None:
    with pytest.raises(LeaseError, match="renew_s"):
        LeaseTerms(lease_s=lease_s, renew_s=renew_s)


def test_a_fenced_engine_sends_no_ami_action() -> None:
    """The AMI client asks its permits before every action: a lost lease refuses it, unsent."""
    import asyncio

    from acd.asterisk.ami import AmiClient, AmiFenced, AmiNotConnected

    leader = LeaderLease(TERMS, epoch=4, renew_sent_at=0.0)
    now = [1.0]
    client = AmiClient(port=1)
    client.permits.append(lambda: leader.refusal(now[0]))

    async def originate() -> None:
        await client.action("Originate", Channel="PJSIP/agent-1001")

    with pytest.raises(AmiNotConnected) as not_connected:  # within the lease: it would be sent (no AMI here)
        asyncio.run(originate())
    assert not isinstance(not_connected.value, AmiFenced)
    now[0] = 10.0
    with pytest.raises(AmiFenced, match="Originate not sent: lease \\(epoch 4\\) not renewed"):
        asyncio.run(originate())


def test_lease_settings_that_cannot_work_name_the_field_and_why(tmp_path) -> None:  # noqa: ANN001
    from acd.settings import SettingsError, load_settings

    path = tmp_path / "acd.yaml"
    path.write_text("ha:\n  enabled: true\n  lease_s: 3\n  renew_s: 2\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert str(caught.value) == f"{path}:4:12: ha.renew_s: found 2 (an integer), expected at most a third of lease_s (3), so a late renewal does not lose the lease"
    path.write_text("ha:\n  node: 'node a; drop'\n")
    with pytest.raises(SettingsError, match=r"ha.node"):
        load_settings(path, environ={})
    path.write_text("site: x\n")
    assert load_settings(path, environ={"ACD_HA_ENABLED": "true", "ACD_HA_NODE": "acd-2"}).ha.node == "acd-2"
