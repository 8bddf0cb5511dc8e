"""The hooks sipflask plugins can implement (pluggy project name ``sipflask``).

Hooks return data, never HTML (SPEC "Plugins"). docs/plugins.md documents each
one for plugin authors; tests/test_hooks.py checks every hook here has both a
test and a section there.

A plugin implements a hook by defining a function of the same name decorated
with :data:`hookimpl`; it may accept any subset of the hook's arguments::

    from sipflask.hookspecs import hookimpl

    @hookimpl
    def sip_headers(call, values):
        return [("X-Lead-Source", values.get("afid", ""))]
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("sipflask")
hookimpl = pluggy.HookimplMarker("sipflask")


@hookspec
def sip_headers(call, buyer, values):
    """Return a list of (name, value) SIP headers to add to a SIP attempt, or None."""


@hookspec
def token_values(call):
    """Return a dict of extra token values for a call (they become call tags), or None."""


@hookspec
def startup(app):
    """Return None; called once for each app when it is created (read config, load data)."""
