"""The signed OAuth state and worker cookie: what this server signed reads back until it
expires; anything changed, expired or signed with another key is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.service.wechat_identity import COOKIE_SECONDS, STATE_SECONDS, Signer

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_a_state_names_its_value_within_ten_minutes_and_fits_wechat():
    signer = Signer("server-secret-0123456789")
    state = signer.state("s", "xcmg-hv-3", NOW)
    assert state.isalnum() and len(state) <= 128
    assert signer.read_state(state, NOW + timedelta(seconds=STATE_SECONDS - 1)) == ("s", "xcmg-hv-3")
    assert signer.read_state(state, NOW + timedelta(seconds=STATE_SECONDS + 1)) is None
    assert Signer("another-secret-0123456789").read_state(state, NOW) is None
    tampered = state[:-2] + ("00" if state[-2:] != "00" else "11")
    assert signer.read_state(tampered, NOW) is None
    assert signer.read_state("b" + state[1:], NOW) is None  # another kind, same value
    assert signer.read_state(signer.state("t", "a" * 32, NOW), NOW) == ("t", "a" * 32)


def test_a_cookie_carries_the_openid_for_thirty_days_untampered():
    signer = Signer("server-secret-0123456789")
    cookie = signer.cookie("oABC-123_x", NOW)
    assert signer.openid(cookie, NOW + timedelta(days=29)) == "oABC-123_x"
    assert signer.openid(cookie, NOW + timedelta(seconds=COOKIE_SECONDS + 1)) is None
    assert signer.openid(cookie.replace("oABC", "oXYZ"), NOW) is None
    assert signer.openid(None, NOW) is None and signer.openid("garbage", NOW) is None
