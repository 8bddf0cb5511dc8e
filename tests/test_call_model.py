"""A model check of one small campaign's call state: hypothesis plays random sequences of
voice webhooks, dial-actions, status callbacks, their repeats and the passing of time, and after
every step each buyer's counter equals the slots its attempts hold, no ended call holds a slot,
and every repeated request got exactly the answer the first one got."""
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)
from sqlalchemy import delete, select, update

from sipflask.callflow import caps, leases
from sipflask.callflow import voice as voice_module
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call
from tests.support.call_state import assert_consistent
from tests.support.webhook import BASE, pause_all_but, post, voice

OUTCOMES = ["busy", "no-answer", "failed", "canceled", "completed"]
FINAL = ["completed", "busy", "no-answer", "failed", "canceled"]


@dataclass
class Seen:
    """What the model knows of one call: its actions and the answers already given."""
    voice_answer: bytes
    actions: list = field(default_factory=list)      # dial-action paths, in order
    answers: dict = field(default_factory=dict)      # (path, outcome) -> answer
    dial_actions: int = 0
    ended: bool = False                               # a status callback or the sweeper ran


class _Done:
    status = "completed"
    duration = 1


def _machine(app, clock):
    class CallStateMachine(RuleBasedStateMachine):
        def __init__(self):
            # Each example starts from the same state, and routing's random pick is seeded:
            # hypothesis needs the same steps to behave the same way when it shrinks.
            super().__init__()
            self.client = app.test_client()
            self.calls: dict[str, Seen] = {}
            clock["offset"] = timedelta(0)
            voice_module._rng = random.Random(0)
            with app.app_context():
                db.session.execute(delete(Attempt))
                db.session.execute(delete(Call))
                db.session.execute(update(Buyer).values(active_calls=0, calls_today=0))
                db.session.commit()

        def _sid(self, n):
            return f"CA{len(self.calls) + 1:08x}{n:024x}"

        @rule(n=st.integers(0, 2 ** 20))
        def new_call(self, n):
            sid = self._sid(n)
            answer = voice(self.client, sid=sid).data
            assert b"can't connect" not in answer
            self.calls[sid] = seen = Seen(answer)
            self._note_dial(seen, answer)

        @precondition(lambda self: self.calls)
        @rule(data=st.data())
        def repeat_voice(self, data):
            sid = data.draw(st.sampled_from(sorted(self.calls)))
            seen = self.calls[sid]
            answer = voice(self.client, sid=sid).data
            if seen.dial_actions == 0 and not seen.ended:
                assert answer == seen.voice_answer  # nothing happened since: the same answer

        @precondition(lambda self: any(s.actions for s in self.calls.values()))
        @rule(data=st.data(), outcome=st.sampled_from(OUTCOMES))
        def dial_action(self, data, outcome):
            sid = data.draw(st.sampled_from(sorted(s for s, v in self.calls.items() if v.actions)))
            seen = self.calls[sid]
            path = data.draw(st.sampled_from(seen.actions))
            answer = post(self.client, path, {"CallSid": sid, "DialCallStatus": outcome}).data
            assert b"can't connect" not in answer
            seen.dial_actions += 1
            first = next((a for (p, _), a in seen.answers.items() if p == path), None)
            if first is not None:
                assert answer == first  # Twilio repeated it: the first answer again
            else:
                seen.answers[(path, outcome)] = answer
                self._note_dial(seen, answer)

        @precondition(lambda self: self.calls)
        @rule(data=st.data(), status=st.sampled_from(FINAL))
        def status(self, data, status):
            sid = data.draw(st.sampled_from(sorted(self.calls)))
            assert post(self.client, "/twilio/status",
                        {"CallSid": sid, "CallStatus": status}).status_code == 204
            self.calls[sid].ended = True

        @rule()
        def leases_run_out(self):
            clock["offset"] += timedelta(seconds=caps.MAX_CALL_SECONDS + 700)
            with app.app_context():
                leases.sweep_leases(fetch=lambda sid: _Done(), at=caps.now())
            for seen in self.calls.values():
                seen.ended = True  # every call is older than the longest call now

        def _note_dial(self, seen, answer):
            dial = ET.fromstring(answer).find("Dial")
            if dial is not None:
                seen.actions.append(dial.get("action")[len(BASE):])

        @invariant()
        def counters_match_held_slots(self):
            assert_consistent(app)

    return CallStateMachine


def test_call_state_model(client, demo, monkeypatch):
    pause_all_but(demo, "queue", "secure", "phone")
    with demo.app_context():
        for buyer in db.session.scalars(select(Buyer)):
            buyer.concurrency_cap, buyer.daily_cap = {"queue": 2, "secure": 1}.get(buyer.ref, 1), None
        db.session.commit()
    clock = {"offset": timedelta(0)}
    real_now = caps.now
    monkeypatch.setattr(caps, "now", lambda: real_now() + clock["offset"])
    monkeypatch.setattr(voice_module, "_rng", voice_module._rng)  # put back afterwards
    run_state_machine_as_test(_machine(demo, clock), settings=settings(
        max_examples=25, stateful_step_count=20, deadline=None,
        suppress_health_check=list(HealthCheck)))
