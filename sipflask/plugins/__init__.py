"""sipflask's plugins: the public API of the plugin manager.

sipflask uses pluggy (project name ``sipflask``, hooks in :mod:`sipflask.hookspecs`).
Each app gets its own manager (:mod:`.manager`), built by :func:`init_app`. Plugins come
from, in this order (:mod:`.loading`):

1. the built-in plugins in :data:`DEFAULT_PLUGINS` (default headers, buyer headers:
   SPEC "Plugins" asks for built-in behaviour to be plugins too);
2. the ``sipflask`` entry-point group of installed distributions;
3. ``*.py`` files in ``app.config["PLUGINS_DIR"]`` (files starting with ``_`` are
   skipped); the plugin's name is the file stem.

At call time :func:`collect_token_values` and :func:`collect_sip_headers` (:mod:`.collect`)
call the hooks: built-ins inline, third-party ones in a thread pool with time budgets
(:mod:`.runner`), their results checked (:mod:`.results`). Plugins receive plain data
(:class:`CallInfo`, :mod:`.calls`), never the database session or an app context.
:func:`plugin_info` (:mod:`.listing`) is the ``/-/plugins`` list.
"""
from __future__ import annotations

import logging

import pluggy
from flask import Flask

from sipflask.hookspecs import hookimpl
from sipflask.plugins import loading
from sipflask.plugins.calls import CallInfo, call_info
from sipflask.plugins.collect import collect_sip_headers, collect_token_values
from sipflask.plugins.listing import plugin_info
from sipflask.plugins.manager import (BUILTIN_NAMES, DEFAULT_PLUGINS, ENTRY_POINT_GROUP, EXTENSION,
                                      NO_VERSION, PluginError, PluginManager, get_manager)
from sipflask.plugins.runner import PluginFailure

__all__ = [
    "hookimpl",
    "ENTRY_POINT_GROUP",
    "DEFAULT_PLUGINS",
    "BUILTIN_NAMES",
    "PluginError",
    "PluginFailure",
    "CallInfo",
    "call_info",
    "PluginManager",
    "init_app",
    "get_manager",
    "register",
    "collect_sip_headers",
    "collect_token_values",
    "plugin_info",
]

log = logging.getLogger("sipflask.plugins")


def init_app(app: Flask) -> PluginManager:
    """Build the app's plugin manager, load every plugin, check them, run ``startup``."""
    pm = PluginManager()
    allowed = loading.allowed_names(app)
    loading.load_builtins(pm)
    loading.load_entry_points(pm, allowed)
    loading.load_folder(pm, app.config.get("PLUGINS_DIR"), allowed)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:  # the hook checks normally catch these first
        raise PluginError(f"Plugin {exc.plugin!r} is invalid: {loading.one_line(exc)}") \
            from None
    app.extensions[EXTENSION] = pm
    loading.run_startup(pm, app)
    loaded = [n for n in pm.sources if n not in BUILTIN_NAMES]
    if loaded:
        log.info("plugins loaded: %s", ", ".join(sorted(loaded)))
    return pm


def register(app: Flask, plugin: object, name: str | None = None) -> str:
    """Register ``plugin`` (a module or object with hookimpls) on a running app.

    For code that embeds sipflask, and for tests. The allow-list does not apply
    (the caller chose the plugin). The plugin's ``startup`` hook runs now. Returns
    the name used (default: the module's short name or the object's class name). A
    plugin of the same name that PLUGINS_ALLOW left out is replaced by this one.
    """
    pm = get_manager(app)
    if name is None:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        name = name.rpartition(".")[2]
    version = str(getattr(plugin, "__version__", NO_VERSION))
    if name in pm.not_allowed and pm.get_plugin(name) is None:
        # Chosen explicitly: takes the place of the one PLUGINS_ALLOW left out.
        pm.unblock(name)
        del pm.not_allowed[name]
    loading.add(pm, plugin, name, "registered in code", version)
    loading.run_startup(pm, app, {name})
    return name
