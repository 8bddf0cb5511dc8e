"""``flask simulate-call`` drives the real, signed webhook endpoints."""
from datetime import datetime, timedelta

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer, Call
from tests.support.webhook import AUTO, pause_all_but


def test_simulate_failover_prints_each_step(runner, demo):
    pause_all_but(demo, "queue", "secure", "phone")
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+14155552671",
                                 "--param", "FromState=TX", "--param", "SipHeader_X-Lead-Score=87",
                                 "--outcome", "busy:486", "--outcome", "completed"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("--- step") == 4  # voice, dial-action x2, status
    assert "sip:agentqueue@pbx.example.com?" in out
    assert "X-Caller-State=TX" in out
    assert "1001@pbx.acme-insure.example" in out
    assert 'password="********"' in out and "Demo-Password-2026" not in out
    with demo.app_context():
        call = db.session.scalar(select(Call))
        assert call.tags["lead_score"] == "87"
        assert [a.dial_status for a in call.attempts] == ["busy", "completed"]
        assert call.attempts[0].sip_code == 486
        assert call.status == "completed"


def test_simulate_unknown_number(runner, demo):
    result = runner.invoke(args=["simulate-call", "--to", "+12125550100", "--from", "+14155552671"])
    assert result.exit_code == 0
    assert "not in service" in result.output


def test_simulate_bad_arguments(runner, demo):
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+1", "--outcome", "ok"])
    assert result.exit_code != 0 and "status must be one of" in result.output
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+1", "--param", "x"])
    assert result.exit_code != 0 and "Name=Value" in result.output
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+1",
                                 "--outcome", "busy:99"])
    assert result.exit_code != 0 and "100-699" in result.output


def test_simulate_without_a_configured_token_signs_with_a_throwaway_one(runner, demo):
    demo.config["TWILIO_AUTH_TOKEN"] = ""
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+14155552671"])
    assert result.exit_code == 0, result.output
    assert "<Dial" in result.output


def test_simulate_masks_the_postback_key(runner, demo):
    pause_all_but(demo, "queue")
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+14155552671"])
    with demo.app_context():
        call = db.session.scalar(select(Call))
    assert "X-PH-RetreaverKey=********" in result.output
    assert call.key not in result.output


def test_simulate_ends_with_a_separate_summary(runner, demo):
    pause_all_but(demo, "queue", "secure", "phone")
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+14155552671",
                                 "--outcome", "busy:486", "--outcome", "completed"])
    assert result.exit_code == 0, result.output
    with demo.app_context():
        call = db.session.scalar(select(Call))
    tail = result.output.split("=== summary\n", 1)[1].splitlines()
    assert tail == [f"    CallSid: {call.call_sid}", f"    call {call.uuid}: completed",
                    "    attempt 1: Agent queue (Asterisk): busy 486",
                    "    attempt 2: Acme PBX (digest auth): completed",
                    "    plugins: no failures or timeouts"]
    assert "<-- 204\n=== summary\n" in result.output


def test_simulate_says_when_a_plugin_timed_out_or_failed(tmp_path, backend):
    import textwrap

    from tests.support.app import make_app
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "slow.py").write_text(textwrap.dedent("""
        import time
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def sip_headers(call, buyer, values):
            time.sleep(0.5)
            return [("X-Slow", "1")]
    """))
    (folder / "broken.py").write_text(textwrap.dedent("""
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def sip_headers(call, buyer, values):
            raise RuntimeError("CRM is down")
    """))
    app = make_app(tmp_path, backend, PLUGINS_ALLOW=["slow", "broken"], PLUGIN_TIMEOUT_MS=50)
    try:
        runner = app.test_cli_runner()
        assert runner.invoke(args=["demo"]).exit_code == 0
        pause_all_but(app, "queue")
        result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+14155552671"])
        assert result.exit_code == 0, result.output
        summary = result.output.split("=== summary\n", 1)[1]
        assert "plugin slow (sip_headers): timed out after 50 ms" in summary
        assert "plugin broken (sip_headers): " in summary and "CRM is down" in summary
        assert "no failures" not in summary
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _lunch_queue(app):
    pause_all_but(app, "queue", "secure")
    with app.app_context():
        for buyer in db.session.scalars(select(Buyer)):
            buyer.time_zone, buyer.hours, buyer.closures = "UTC", None, []
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.time_zone = "America/New_York"
        queue.hours = {d: ["09:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
        db.session.commit()


def test_simulate_at_routes_on_that_clock_for_every_step(runner, demo):
    _lunch_queue(demo)
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+14155552671",
                                 "--at", "2026-12-07T08:59:00-05:00",
                                 "--outcome", "completed:200:60"])
    assert result.exit_code == 0, result.output
    assert "closed (opens Mon 09:00 America/New_York)" in result.output
    with demo.app_context():
        call = db.session.scalar(select(Call))
        arrived = datetime.fromisoformat("2026-12-07T08:59:00-05:00")
        assert abs(call.created_at - arrived) < timedelta(seconds=5)
        (attempt,) = call.attempts
        assert attempt.skipped[0]["reason"] == "closed (opens Mon 09:00 America/New_York)"
        assert abs(attempt.started_at - arrived) < timedelta(seconds=5)
        # Dial-action and status ran on the same clock: a few seconds of ringing, 60 of talk.
        assert timedelta(seconds=60) <= attempt.ended_at - arrived < timedelta(seconds=90)
        assert timedelta(seconds=60) <= call.ended_at - arrived < timedelta(seconds=90)
        assert call.status == "completed"


def test_simulate_at_one_minute_later_reaches_the_open_buyer(runner, demo):
    _lunch_queue(demo)
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+14155552671",
                                 "--at", "2026-12-07T14:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "sip:agentqueue@pbx.example.com" in result.output
    assert "closed (" not in result.output


def test_simulate_at_needs_an_offset(runner, demo):
    for bad, words in (("2026-12-07T08:59:00", "add the UTC offset"),
                       ("next monday", "ISO 8601"), ("2026-13-07T08:59:00Z", "ISO 8601")):
        result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+1", "--at", bad])
        assert result.exit_code != 0 and words in result.output, result.output
        assert "Traceback" not in result.output
