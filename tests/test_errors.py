"""Error pages: in the layout, no traceback, JSON for the postback API."""
from tests.support.app import ADMIN_EMAIL, PASSWORD, make_app, make_user


def test_404_page_in_layout(admin_client):
    response = admin_client.get("/no-such-page")
    assert response.status_code == 404
    assert b"There is nothing at this address." in response.data and b"<nav>" in response.data


def test_500_page_without_traceback(tmp_path, caplog):
    app = make_app(tmp_path, "sqlite", PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret-detail-xyz")

    make_user(app, ADMIN_EMAIL, "admin")
    client = app.test_client()
    client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    response = client.get("/boom")
    assert response.status_code == 500
    assert b"Something went wrong" in response.data
    assert b"secret-detail-xyz" not in response.data and b"Traceback" not in response.data
    assert "unhandled error on GET /boom" in caplog.text


def test_postback_errors_are_json(client):
    response = client.post("/postback", data="[" * 100000 + "]" * 100000,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.is_json and response.get_json()["ok"] is False
