"""The browser tests' own rule: skip with the reason when Chromium is missing, fail under CI."""
import pytest

from tests.support import browser as support


def test_missing_browser_skips_outside_ci(monkeypatch):
    monkeypatch.setattr(support, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        support.need(False, "/usr/bin/chromium is missing")


def test_missing_browser_fails_in_ci(monkeypatch):
    monkeypatch.setattr(support, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true but /usr/bin/chromium is missing"):
        support.need(False, "/usr/bin/chromium is missing")
    support.need(True, "never shown")  # present: nothing happens
