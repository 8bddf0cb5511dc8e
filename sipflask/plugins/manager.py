"""The app's plugin manager: pluggy's, plus where each plugin came from, and the built-ins.

One manager per app, kept in ``app.extensions["sipflask.plugins"]``. The built-in plugins
(:data:`DEFAULT_PLUGINS`) are trusted code that runs inline; every other plugin runs in the
pool with a time budget (:mod:`sipflask.plugins.runner`).
"""
from __future__ import annotations

import pluggy
from flask import Flask, current_app

from sipflask import hookspecs

#: The entry-point group third-party plugins register in.
ENTRY_POINT_GROUP = "sipflask"

#: Built-in plugins, always loaded, registered under their module's short name.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "sipflask.plugins.default_headers",
    "sipflask.plugins.buyer_headers",
)
BUILTIN_NAMES: tuple[str, ...] = tuple(m.rpartition(".")[2] for m in DEFAULT_PLUGINS)

#: The version shown for plugins that have none (folder plugins).
NO_VERSION = "—"

EXTENSION = "sipflask.plugins"


class PluginError(RuntimeError):
    """A plugin cannot be loaded; the message names the plugin and the reason."""


def plugin_order(name: str) -> tuple[int, int, str]:
    """Sort key: built-ins first (in DEFAULT_PLUGINS order), then the others by name."""
    if name in BUILTIN_NAMES:
        return (0, BUILTIN_NAMES.index(name), "")
    return (1, 0, name)


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus where each plugin came from and which were not allowed."""

    def __init__(self) -> None:
        super().__init__("sipflask")
        self.add_hookspecs(hookspecs)
        #: name -> "built-in" / "entry point: <dist>" / "folder: <path>" / "registered in code"
        self.sources: dict[str, str] = {}
        #: name -> version string
        self.versions: dict[str, str] = {}
        #: plugins found but left out by PLUGINS_ALLOW: name -> (source, version)
        self.not_allowed: dict[str, tuple[str, str]] = {}
        # hook name -> (built-in impls, third-party impls), both in plugin order. Every hook
        # call of every call reads this, and plugins only change at start-up or in register.
        self._impls: dict[str, tuple[tuple, tuple]] = {}

    def register(self, plugin, name=None):
        self._impls.clear()
        return super().register(plugin, name)

    def unregister(self, plugin=None, name=None):
        self._impls.clear()
        return super().unregister(plugin, name)

    def impls(self, hook: str) -> tuple[tuple[pluggy.HookImpl, ...], tuple[pluggy.HookImpl, ...]]:
        """``hook``'s implementations: ``(built-ins, third-party)``, each in plugin order."""
        split = self._impls.get(hook)
        if split is None:
            ordered = sorted(getattr(self.hook, hook).get_hookimpls(),
                             key=lambda impl: plugin_order(impl.plugin_name))
            split = (tuple(i for i in ordered if i.plugin_name in BUILTIN_NAMES),
                     tuple(i for i in ordered if i.plugin_name not in BUILTIN_NAMES))
            self._impls[hook] = split
        return split


def get_manager(app: Flask | None = None) -> PluginManager:
    """The plugin manager of ``app`` (default: the current app)."""
    app = app if app is not None else current_app._get_current_object()
    try:
        return app.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError("sipflask.plugins.init_app(app) has not run for this app") from None
