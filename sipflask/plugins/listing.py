"""The list of plugins shown at ``/-/plugins`` and ``/-/plugins.json``."""
from __future__ import annotations

from typing import Any

from flask import Flask

from sipflask.plugins.manager import NO_VERSION, get_manager, plugin_order


def plugin_info(app: Flask | None = None) -> list[dict[str, Any]]:
    """Every plugin found, for ``/-/plugins``: built-ins first, then by name.

    Each entry: ``name``, ``version``, ``source``, ``hooks`` (sorted hook names)
    and ``allowed`` (False for plugins PLUGINS_ALLOW left out; those were not
    imported, so their hooks are unknown and listed as empty).
    """
    pm = get_manager(app)
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked placeholder
            continue
        hooks = sorted({caller.name for caller in pm.get_hookcallers(plugin) or []})
        rows.append({
            "name": name,
            "version": pm.versions.get(name, NO_VERSION),
            "source": pm.sources.get(name, "?"),
            "hooks": hooks,
            "allowed": True,
        })
    for name, (source, version) in pm.not_allowed.items():
        rows.append({"name": name, "version": version, "source": source, "hooks": [],
                     "allowed": False})
    return sorted(rows, key=lambda row: plugin_order(row["name"]))
