"""Shared by the browser tests and their conftest: Chromium's path and flags, the one login, the
skip-or-fail rule for a missing browser, and screenshots (a module of its own: importing a
conftest by name would pick whichever conftest pytest loaded last)."""
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
IN_CI = os.environ.get("CI") == "true"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"

EMAIL = "editor@example.com"
PASSWORD = "browser-test-password"


def save_artifact(page, name: str, **kw) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), **kw)
    # docs/img/ is committed: refresh it only when asked (SIPFLASK_UPDATE_DOCS_IMG=1).
    if os.environ.get("SIPFLASK_UPDATE_DOCS_IMG") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / name)
    return path


def need(condition: bool, reason: str) -> None:
    """Skip with the reason when something the browser tests need is missing; fail under CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}: the browser tests must run in CI.")
    pytest.skip(reason)
