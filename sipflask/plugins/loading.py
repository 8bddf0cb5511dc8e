"""Loading plugins: the built-ins, the ``sipflask`` entry points, the plugins folder.

``PLUGINS_ALLOW`` (None, or a list of names) limits which third-party plugins load;
built-ins always do. A plugin that fails to import, implements a hook that does not
exist, uses arguments the hook does not have or fails in ``startup`` stops the app from
starting with a :class:`PluginError` naming the plugin and the reason.
"""
from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
import traceback
from pathlib import Path

import pluggy
from flask import Flask

from sipflask.plugins.manager import (BUILTIN_NAMES, DEFAULT_PLUGINS, ENTRY_POINT_GROUP, NO_VERSION,
                                      PluginError, PluginManager)

log = logging.getLogger("sipflask.plugins")


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(exc: BaseException, path: Path | None = None) -> str:
    """``"ValueError: message (at file.py:12)"`` on one line, without the traceback.

    The location is the last line run in the plugin's own file when ``path`` is
    given and appears in the traceback, else the innermost frame.
    """
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if path is not None:
        own = [f for f in frames if Path(f.filename) == path]
        frames = own or frames
    if frames and not isinstance(exc, SyntaxError):  # SyntaxError already says where
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno})"
    return one_line(text, 500)


def allowed_names(app: Flask) -> set[str] | None:
    allow = app.config.get("PLUGINS_ALLOW")
    if allow is None:
        return None
    if isinstance(allow, str):  # SIPFLASK_PLUGINS_ALLOW="a,b" from the environment
        allow = [part for part in re.split(r"[,\s]+", allow) if part]
    return {str(name) for name in allow}


def _check_hooks(pm: PluginManager, name: str) -> None:
    """Refuse unknown hooks and wrapper implementations for plugin ``name``."""
    plugin = pm.get_plugin(name)
    known = sorted(h for h in vars(pm.hook) if not h.startswith("_"))
    spec_names = [h for h in known if getattr(pm.hook, h).has_spec()]
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin_name != name:
                continue
            if not caller.has_spec() and not impl.optionalhook:
                close = difflib.get_close_matches(caller.name, spec_names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise PluginError(
                    f"Plugin {name!r} implements an unknown hook {caller.name!r}{hint}; "
                    f"sipflask's hooks are: {', '.join(spec_names)}."
                )
            if impl.hookwrapper or impl.wrapper:
                raise PluginError(
                    f"Plugin {name!r}: hook wrappers are not supported ({caller.name}); "
                    "return data from a plain @hookimpl instead."
                )


def add(pm: PluginManager, plugin: object, name: str, source: str, version: str) -> None:
    """Register ``plugin`` as ``name`` and check its hooks, or raise :class:`PluginError`."""
    if pm.get_plugin(name) is not None or pm.is_blocked(name):
        raise PluginError(
            f"Plugin {name!r} from {source} has the same name as plugin {name!r} from "
            f"{pm.sources.get(name, 'elsewhere')}; rename one of them."
        )
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"Plugin {name!r} ({source}) is invalid: {one_line(exc)}") from None
    except ValueError as exc:  # the same object already registered under another name
        raise PluginError(f"Plugin {name!r} ({source}) cannot be registered: "
                          f"{one_line(exc)}") from None
    pm.sources[name] = source
    pm.versions[name] = version
    try:
        _check_hooks(pm, name)
    except PluginError:
        pm.unregister(name=name)
        raise


def load_builtins(pm: PluginManager) -> None:
    from sipflask import __version__

    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        add(pm, module, module_name.rpartition(".")[2], "built-in", __version__)


def _entry_points() -> list[tuple[importlib.metadata.EntryPoint, importlib.metadata.Distribution]]:
    found: dict[str, tuple[importlib.metadata.EntryPoint, importlib.metadata.Distribution]] = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP:
                continue
            seen = found.get(ep.name)
            if seen is None:
                found[ep.name] = (ep, dist)
            elif seen[0].value != ep.value:
                # The same distribution seen twice on sys.path is fine; two different
                # targets under one name would make the name ambiguous.
                raise PluginError(
                    f"Two installed plugins use the entry point name {ep.name!r}: "
                    f"{seen[0].value} ({seen[1].metadata['Name']}) and {ep.value} "
                    f"({dist.metadata['Name']}); uninstall one of them."
                )
    return sorted(found.values(), key=lambda pair: pair[0].name)


def load_entry_points(pm: PluginManager, allowed: set[str] | None) -> None:
    for ep, dist in _entry_points():
        dist_name = dist.metadata["Name"]
        source = f"entry point: {dist_name}"
        version = dist.version or NO_VERSION
        if ep.name in BUILTIN_NAMES or pm.get_plugin(ep.name) is not None:
            raise PluginError(
                f"Plugin {ep.name!r} ({source}) has the same name as a built-in plugin; "
                "rename its entry point."
            )
        if allowed is not None and ep.name not in allowed:
            pm.not_allowed[ep.name] = (source, version)
            pm.set_blocked(ep.name)  # so load_setuptools_entrypoints skips it too
            continue
        try:
            loaded = pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"Plugin {ep.name!r} ({source}) is invalid: {one_line(exc)}") \
                from None
        except Exception as exc:
            log.debug("plugin %s failed to import", ep.name, exc_info=True)
            raise PluginError(
                f"Plugin {ep.name!r} ({source}, entry point {ep.value}) failed to load: "
                f"{describe(exc)}"
            ) from None
        if not loaded:  # pragma: no cover - listed by importlib.metadata but not by pluggy
            continue
        pm.sources[ep.name] = source
        pm.versions[ep.name] = version
        _check_hooks(pm, ep.name)


def _import_file(name: str, path: Path):
    module_name = "_sipflask_plugin_" + re.sub(r"\W", "_", name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"Plugin {name!r} (folder: {path}) cannot be imported.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        log.debug("plugin %s failed to import", name, exc_info=True)
        raise PluginError(
            f"Plugin {name!r} (folder: {path}) failed to load: {describe(exc, path)}"
        ) from None
    return module


def load_folder(pm: PluginManager, folder: str | os.PathLike | None,
                allowed: set[str] | None) -> None:
    if not folder:
        return
    path = Path(folder)
    if not path.is_dir():
        return
    for file in sorted(path.glob("*.py")):
        name = file.stem
        if name.startswith("_"):
            continue
        source = f"folder: {file}"
        if name in pm.not_allowed or pm.get_plugin(name) is not None:
            raise PluginError(
                f"Plugin {name!r} ({source}) has the same name as plugin {name!r} from "
                f"{pm.sources.get(name) or pm.not_allowed[name][0]}; rename the file."
            )
        if allowed is not None and name not in allowed:
            pm.not_allowed[name] = (source, NO_VERSION)
            continue
        add(pm, _import_file(name, file), name, source, NO_VERSION)


def run_startup(pm: PluginManager, app: Flask, names: set[str] | None = None) -> None:
    """Call ``startup(app)`` of every plugin (or of ``names``) in plugin order."""
    builtins, others = pm.impls("startup")
    for impl in (*builtins, *others):
        if names is not None and impl.plugin_name not in names:
            continue
        kwargs = {"app": app} if "app" in impl.argnames else {}
        try:
            with app.app_context():
                impl.function(**kwargs)
        except Exception as exc:
            log.debug("plugin %s failed in startup", impl.plugin_name, exc_info=True)
            raise PluginError(
                f"Plugin {impl.plugin_name!r} ({pm.sources.get(impl.plugin_name, '?')}) "
                f"failed in startup(app): {describe(exc)}"
            ) from None
