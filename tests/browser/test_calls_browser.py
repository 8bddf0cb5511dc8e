"""The call list in a real browser at 1400 px: the time column stays on one line."""
from sipflask.extensions import db
from sipflask.models import Call


def test_call_list_time_is_one_line_at_1400_px(live_app, logged_in):
    with live_app.app_context():
        for n in range(3):  # long values in the other columns squeeze the time column
            db.session.add(Call(status="no-buyer", caller="sip:" + "partner-trunk-" * 4 + "@x",
                                called="+18882223333", sub_id="google-cpc-" * 4,
                                reason="no buyer available"))
        db.session.commit()
    page = logged_in
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/calls/")
    lines = page.eval_on_selector(
        "#call-results tbody tr td:first-child a",
        "a => Math.round(a.getBoundingClientRect().height / parseFloat(getComputedStyle(a).lineHeight || 20))")
    assert lines == 1
