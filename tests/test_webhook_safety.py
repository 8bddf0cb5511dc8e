"""Where webhooks may go: private and loopback addresses refused by default (logged with the
reason, nothing sent) and allowed with WEBHOOKS_ALLOW_PRIVATE, metadata addresses never; a
host name is resolved once and the connection pinned to the checked address, with the
original Host, SNI and certificate check (a real receiver on 127.0.0.1, plain and TLS)."""
import ipaddress
import socket

import pytest
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.webhooks import events
from sipflask.webhooks.events import Facts
from sipflask.webhooks.model import Webhook
from tests.support.outbound import deliveries, make_hook, run, tries_of
from tests.support.receiver import Receiver, certificate


@pytest.fixture
def rx():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def resolver(monkeypatch):
    """Host names the tests make up, answered without DNS; every lookup counted."""
    names: dict[str, list[str]] = {}
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        try:
            ipaddress.ip_address(host)
            return real(host, port, family, type, proto, flags)  # urllib3's own connect
        except ValueError:
            pass
        asked.append(host)
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in names[host]]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names, asked


def queue_event(app):
    with app.app_context():
        events.emit("call.started", None, Facts(None, None, None, {}),
                    lambda: {"call_uuid": "u-1", "event": "call.started"})
        db.session.commit()


def outcome(app):
    [d] = deliveries(app)
    return d["state"], d["last_error"]


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:{port}/x", "127.0.0.1 is loopback"),
    ("http://[::1]:{port}/x", "::1 is loopback"),
    ("http://10.0.0.5:{port}/x", "10.0.0.5 is private"),
    ("http://192.168.7.7/x", "is private"),
    ("http://[fd00::7]/x", "is unique-local"),
    ("http://[::ffff:127.0.0.1]:{port}/x", "127.0.0.1 is loopback"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
])
def test_private_and_loopback_are_refused_by_default(app, rx, url, reason):
    make_hook(app, "call.started", url.format(port=rx.port))
    queue_event(app)
    assert run(app) == {"refused": 1}
    state, error = outcome(app)
    assert state == "refused" and reason in error, error
    assert rx.requests == []
    [logged] = tries_of(app, deliveries(app)[0]["id"])
    assert reason in logged["error"] and logged["status"] is None


@pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True)
@pytest.mark.parametrize("url, reason", [
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest/", "cloud metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://0.0.0.0:{port}/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
])
def test_the_setting_never_allows_metadata_or_link_local(app, rx, url, reason):
    make_hook(app, "call.started", url.format(port=rx.port))
    queue_event(app)
    assert run(app) == {"refused": 1} and reason in outcome(app)[1]


@pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True)
def test_the_setting_allows_loopback(app, rx):
    make_hook(app, "call.started", rx.url())
    queue_event(app)
    assert run(app) == {"delivered": 1} and len(rx.requests) == 1


def test_a_name_resolving_to_a_private_address_is_refused(app, rx, resolver):
    names, _ = resolver
    names["crm.internal.test"] = ["10.0.0.5"]
    names["mixed.example.test"] = ["93.184.216.34", "127.0.0.1"]
    make_hook(app, "call.started", "http://crm.internal.test/x", "a")
    make_hook(app, "call.started", "http://mixed.example.test/x", "b")
    queue_event(app)
    assert run(app) == {"refused": 2}
    errors = sorted(d["last_error"] for d in deliveries(app))
    assert "crm.internal.test resolves to 10.0.0.5" in errors[0]
    assert "mixed.example.test resolves to 127.0.0.1" in errors[1]


def test_a_name_that_does_not_resolve_is_tried_again(app, resolver):
    make_hook(app, "call.started", "http://nowhere.example.test/x")
    queue_event(app)
    assert run(app) == {"pending": 1}
    assert "nowhere.example.test could not be resolved" in outcome(app)[1]


@pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True)
def test_the_connection_goes_to_the_checked_address_with_the_original_host(app, rx, resolver):
    names, asked = resolver
    names["hooks.example.test"] = ["127.0.0.1"]
    make_hook(app, "call.started", f"http://hooks.example.test:{rx.port}/pinned")
    queue_event(app)
    assert run(app) == {"delivered": 1}
    [seen] = rx.requests
    assert seen.headers["host"] == f"hooks.example.test:{rx.port}" and seen.path == "/pinned"
    assert asked == ["hooks.example.test"]  # looked up once: nothing to rebind


@pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True)
def test_tls_sends_sni_and_checks_the_certificate_for_the_host_name(app, tmp_path, resolver):
    names, _ = resolver
    names["hooks.example.test"] = ["127.0.0.1"]
    names["other.example.test"] = ["127.0.0.1"]
    cert, key = certificate(tmp_path, "hooks.example.test")
    app.config["WEBHOOK_CA_BUNDLE"] = cert
    tls = Receiver(tls=(cert, key))
    try:
        make_hook(app, "call.started", tls.url("/tls", "hooks.example.test", "https"), "good")
        make_hook(app, "call.started", tls.url("/tls", "other.example.test", "https"), "bad")
        queue_event(app)
        assert run(app) == {"delivered": 1, "pending": 1}
        with app.app_context():
            good = db.session.scalar(select(Webhook.id).where(Webhook.ref == "good"))
        by_hook = {d["webhook_id"] == good: d for d in deliveries(app)}
        assert by_hook[True]["state"] == "delivered"
        assert "TLS" in by_hook[False]["last_error"] and "other.example.test" in \
            by_hook[False]["last_error"]
        assert [r.headers["host"] for r in tls.requests] == [f"hooks.example.test:{tls.port}"]
    finally:
        tls.close()
