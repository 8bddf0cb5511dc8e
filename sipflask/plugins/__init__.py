"""The plugin manager: loading plugins and calling their hooks with a time budget.

sipflask uses pluggy (project name ``sipflask``, hooks in :mod:`sipflask.hookspecs`).
Each app gets its own manager, built by :func:`init_app` and kept in
``app.extensions["sipflask.plugins"]``. Plugins come from, in this order:

1. the built-in plugins in :data:`DEFAULT_PLUGINS` (default headers, buyer
   headers: SPEC "Plugins" asks for built-in behaviour to be plugins too);
2. the ``sipflask`` entry-point group of installed distributions;
3. ``*.py`` files in ``app.config["PLUGINS_DIR"]`` (files starting with ``_``
   are skipped); the plugin's name is the file stem.

``PLUGINS_ALLOW`` (None, or a list of names) limits which third-party plugins
load; built-ins always do. A plugin that fails to import, implements a hook
that does not exist, or uses arguments the hook does not have stops the app
from starting with a :class:`PluginError` naming the plugin and the reason.

At call time :func:`collect_token_values` and :func:`collect_sip_headers` call
the hooks. Built-ins run inline. Third-party implementations run in a shared
thread pool with ``PLUGIN_TIMEOUT_MS`` each and ``PLUGIN_TOTAL_TIMEOUT_MS`` for
all of them; one that raises, returns the wrong shape or runs out of time is
skipped, logged and reported as a :class:`PluginFailure` -- the call still
routes (SPEC "Plugins"). Plugins receive plain data (:class:`CallInfo`, a
``BuyerSpec`` without its SIP password, a dict of strings), never the database
session or an app context.
"""
from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import difflib
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from flask import Flask, current_app

from sipflask import hookspecs
from sipflask.core import sipheaders
from sipflask.core.redact import redact
from sipflask.hookspecs import hookimpl

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

#: The entry-point group third-party plugins register in.
ENTRY_POINT_GROUP = "sipflask"

#: Built-in plugins, always loaded, registered under their module's short name.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "sipflask.plugins.default_headers",
    "sipflask.plugins.buyer_headers",
)
BUILTIN_NAMES: tuple[str, ...] = tuple(m.rpartition(".")[2] for m in DEFAULT_PLUGINS)

#: Threads shared by every app in the process for third-party hook calls.
MAX_WORKERS = 8

_EXTENSION = "sipflask.plugins"
_TOKEN_NAME_RE = re.compile(r"[a-z0-9_]+\Z")
NO_VERSION = "—"


class PluginError(RuntimeError):
    """A plugin cannot be loaded; the message names the plugin and the reason."""


@dataclass
class PluginFailure:
    """A plugin hook call that was skipped for one call (recorded on the attempt)."""

    plugin: str
    hook: str
    error: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CallInfo:
    """What a plugin knows about a call: plain data, safe to hand to a worker thread."""

    uuid: str
    key: str = field(repr=False)  # the postback key: never in a repr that may be logged
    caller: str = ""
    called: str = ""
    campaign_id: int | None = None
    campaign_ref: str = ""
    campaign_name: str = ""
    campaign_settings: dict = field(default_factory=dict)
    publisher_id: int | None = None
    afid: str = ""
    sub_id: str = ""
    tags: dict = field(default_factory=dict)


def call_info(call) -> CallInfo:
    """Build a :class:`CallInfo` from a ``models.Call`` (in the request thread)."""
    campaign = call.campaign
    publisher = call.publisher
    return CallInfo(
        uuid=call.uuid or "",
        key=call.key or "",
        caller=call.caller or "",
        called=call.called or "",
        campaign_id=call.campaign_id,
        campaign_ref=campaign.ref if campaign else "",
        campaign_name=campaign.name if campaign else "",
        campaign_settings=copy.deepcopy(campaign.settings or {}) if campaign else {},
        publisher_id=call.publisher_id,
        afid=publisher.afid if publisher else "",
        sub_id=call.sub_id or "",
        tags=dict(call.tags or {}),
    )


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


# --------------------------------------------------------------------------
# Loading


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(exc: BaseException, path: Path | None = None) -> str:
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
    return _one_line(text, 500)


def _allowed_names(app: Flask) -> set[str] | None:
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


def _register(pm: PluginManager, plugin: object, name: str, source: str, version: str) -> None:
    if pm.get_plugin(name) is not None or pm.is_blocked(name):
        raise PluginError(
            f"Plugin {name!r} from {source} has the same name as plugin {name!r} from "
            f"{pm.sources.get(name, 'elsewhere')}; rename one of them."
        )
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"Plugin {name!r} ({source}) is invalid: {_one_line(exc)}") from None
    except ValueError as exc:  # the same object already registered under another name
        raise PluginError(f"Plugin {name!r} ({source}) cannot be registered: "
                          f"{_one_line(exc)}") from None
    pm.sources[name] = source
    pm.versions[name] = version
    try:
        _check_hooks(pm, name)
    except PluginError:
        pm.unregister(name=name)
        raise


def _load_builtins(pm: PluginManager) -> None:
    from sipflask import __version__

    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        _register(pm, module, module_name.rpartition(".")[2], "built-in", __version__)


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


def _load_entry_points(pm: PluginManager, allowed: set[str] | None) -> None:
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
            raise PluginError(f"Plugin {ep.name!r} ({source}) is invalid: {_one_line(exc)}") \
                from None
        except Exception as exc:
            log.debug("plugin %s failed to import", ep.name, exc_info=True)
            raise PluginError(
                f"Plugin {ep.name!r} ({source}, entry point {ep.value}) failed to load: "
                f"{_describe(exc)}"
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
            f"Plugin {name!r} (folder: {path}) failed to load: {_describe(exc, path)}"
        ) from None
    return module


def _load_folder(pm: PluginManager, folder: str | os.PathLike | None,
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
        _register(pm, _import_file(name, file), name, source, NO_VERSION)


def _ordered_impls(impls: Iterable[pluggy.HookImpl]) -> list[pluggy.HookImpl]:
    """Built-ins first (in DEFAULT_PLUGINS order), then the others by plugin name."""

    def key(impl: pluggy.HookImpl) -> tuple[int, str]:
        if impl.plugin_name in BUILTIN_NAMES:
            return (0, f"{BUILTIN_NAMES.index(impl.plugin_name):04d}")
        return (1, impl.plugin_name)

    return sorted(impls, key=key)


def _run_startup(pm: PluginManager, app: Flask, names: set[str] | None = None) -> None:
    for impl in _ordered_impls(pm.hook.startup.get_hookimpls()):
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
                f"failed in startup(app): {_describe(exc)}"
            ) from None


def init_app(app: Flask) -> PluginManager:
    """Build the app's plugin manager, load every plugin, check them, run ``startup``."""
    pm = PluginManager()
    allowed = _allowed_names(app)
    _load_builtins(pm)
    _load_entry_points(pm, allowed)
    _load_folder(pm, app.config.get("PLUGINS_DIR"), allowed)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:  # _check_hooks normally catches these first
        raise PluginError(f"Plugin {exc.plugin!r} is invalid: {_one_line(exc)}") from None
    app.extensions[_EXTENSION] = pm
    _run_startup(pm, app)
    loaded = [n for n in pm.sources if n not in BUILTIN_NAMES]
    if loaded:
        log.info("plugins loaded: %s", ", ".join(sorted(loaded)))
    return pm


def get_manager(app: Flask | None = None) -> PluginManager:
    """The plugin manager of ``app`` (default: the current app)."""
    app = app if app is not None else current_app._get_current_object()
    try:
        return app.extensions[_EXTENSION]
    except KeyError:
        raise RuntimeError("sipflask.plugins.init_app(app) has not run for this app") from None


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
    _register(pm, plugin, name, "registered in code", version)
    _run_startup(pm, app, {name})
    return name


# --------------------------------------------------------------------------
# Calling hooks

_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_pid: int | None = None
_executor_lock = threading.Lock()


def _get_executor() -> concurrent.futures.ThreadPoolExecutor:
    # Recreated after a fork (gunicorn --preload): the parent's threads do not exist
    # in the child, and an executor that believes it has them would never run anything.
    global _executor, _executor_pid
    with _executor_lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=MAX_WORKERS, thread_name_prefix="sipflask-plugin"
            )
            _executor_pid = os.getpid()
        return _executor


class _BadResult(ValueError):
    """A hook returned something of the wrong shape; message says what."""


def _budget(app: Flask) -> tuple[float, float]:
    per = float(app.config.get("PLUGIN_TIMEOUT_MS") or 300)
    total = float(app.config.get("PLUGIN_TOTAL_TIMEOUT_MS") or 1000)
    return per / 1000.0, total / 1000.0


def _fail(failures: list[PluginFailure], plugin: str, hook: str, error: str) -> None:
    # Logged by _report once the call's secrets are masked out of the message.
    failures.append(PluginFailure(plugin, hook, error))


def _report(failures: list[PluginFailure], secrets: Iterable[str]) -> list[PluginFailure]:
    """Mask the call's secrets in the failures' messages, then log them.

    A plugin's own error text may quote what it was given (``f"failed for {call}"``): the call's
    postback key or the buyer's SIP password must not reach the log, the call log or a CSV.
    """
    masked = []
    for f in failures:
        error = redact(f.error, secrets)
        masked.append(PluginFailure(f.plugin, f.hook, error))
        # Who and what went wrong, never the values a plugin returned (they may be secret).
        log.warning("plugin %s skipped in %s: %s", f.plugin, f.hook, error)
    return masked


def _call_third_party(
    app: Flask,
    hook: str,
    make_kwargs: Callable[[], dict[str, Any]],
    failures: list[PluginFailure],
) -> list[tuple[str, Any]]:
    """Run the non-built-in implementations of ``hook`` in the pool, in plugin name order.

    Returns ``(plugin name, result)`` for those that finished in time without
    raising; the others are added to ``failures``. All implementations start at
    once; each may take ``PLUGIN_TIMEOUT_MS`` and all of them together
    ``PLUGIN_TOTAL_TIMEOUT_MS`` (a queued one counts its wait against both).
    """
    pm = get_manager(app)
    impls = [i for i in _ordered_impls(getattr(pm.hook, hook).get_hookimpls())
             if i.plugin_name not in BUILTIN_NAMES]
    if not impls:
        return []
    per, total = _budget(app)
    executor = _get_executor()
    start = time.monotonic()
    running = []
    for impl in impls:
        kwargs = make_kwargs()  # a fresh copy each, so one plugin cannot change another's input
        args = {name: kwargs[name] for name in impl.argnames}
        running.append((impl, executor.submit(impl.function, **args)))

    results: list[tuple[str, Any]] = []
    for impl, future in running:
        deadline = start + min(per, total)
        concurrent.futures.wait([future], timeout=max(0.0, deadline - time.monotonic()))
        if not future.done():
            future.cancel()  # stops it only if it has not started; a running thread is left
            _fail(failures, impl.plugin_name, hook,
                  f"timed out after {round(min(per, total) * 1000)} ms")
            continue
        exc = future.exception()
        if exc is not None:
            _fail(failures, impl.plugin_name, hook, _one_line(f"{type(exc).__name__}: {exc}"))
            continue
        results.append((impl.plugin_name, future.result()))
    return results


def _text_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent or stored (lone surrogates, NUL), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (lone surrogate)"
    return None


def _check_header_pairs(result: Any) -> list[tuple[str, str]]:
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        raise _BadResult(
            f"returned {type(result).__name__}, expected a list of (name, value) pairs"
        )
    pairs: list[tuple[str, str]] = []
    for i, item in enumerate(result):
        if not (isinstance(item, (list, tuple)) and len(item) == 2
                and isinstance(item[0], str) and isinstance(item[1], str)):
            raise _BadResult(f"item {i} is not a (name, value) pair of strings")
        name, value = item
        problem = sipheaders.header_name_problem(name)
        if problem is not None:
            raise _BadResult(f"item {i} has an invalid header name {name[:60]!r}: {problem}")
        if "\r" in value or "\n" in value:
            raise _BadResult(f"the value of header {name} contains a line break")
        problem = _text_problem(value)
        if problem:
            raise _BadResult(f"the value of header {name} {problem}")
        pairs.append((name, value))
    return pairs


def _safe_buyer(buyer: Any) -> Any:
    """A copy of ``buyer`` for third-party plugins, without the decrypted SIP password."""
    if dataclasses.is_dataclass(buyer) and not isinstance(buyer, type):
        changes = {"sip_password": ""} if hasattr(buyer, "sip_password") else {}
        return copy.deepcopy(dataclasses.replace(buyer, **changes))
    return copy.deepcopy(buyer)


def collect_sip_headers(
    call: CallInfo,
    buyer: Any,
    values: Mapping[str, str],
    *,
    app: Flask | None = None,
) -> tuple[list[sipheaders.Header], list[sipheaders.Header], list[sipheaders.Header], list[PluginFailure]]:
    """Call every ``sip_headers`` implementation for one SIP attempt.

    Returns ``(defaults, plugin_headers, buyer_headers, failures)``: the built-in
    default headers (source ``"default"``), third-party headers in plugin name
    order (source ``"plugin:<name>"``), the buyer's own headers with tokens
    expanded (source ``"buyer"``), and the plugins that were skipped. Merge them
    with :func:`sipflask.sipheaders.merge_headers` in that order (SPEC precedence).
    """
    app = app if app is not None else current_app._get_current_object()
    pm = get_manager(app)
    failures: list[PluginFailure] = []
    defaults: list[sipheaders.Header] = []
    buyers: list[sipheaders.Header] = []

    # Built-ins: trusted code, inline, with the real buyer; an error here is a bug.
    for impl in _ordered_impls(pm.hook.sip_headers.get_hookimpls()):
        if impl.plugin_name not in BUILTIN_NAMES:
            continue
        kwargs = {"call": call, "buyer": buyer, "values": values}
        pairs = impl.function(**{n: kwargs[n] for n in impl.argnames}) or []
        if impl.plugin_name == "default_headers":
            defaults.extend(sipheaders.Header(n, v, "default") for n, v in pairs)
        elif impl.plugin_name == "buyer_headers":
            buyers.extend(sipheaders.Header(n, v, "buyer") for n, v in pairs)

    safe_buyer = _safe_buyer(buyer)

    def make_kwargs() -> dict[str, Any]:
        return {"call": copy.deepcopy(call), "buyer": copy.deepcopy(safe_buyer),
                "values": dict(values)}

    plugin_headers: list[sipheaders.Header] = []
    for name, result in _call_third_party(app, "sip_headers", make_kwargs, failures):
        try:
            pairs = _check_header_pairs(result)
        except _BadResult as exc:
            _fail(failures, name, "sip_headers", str(exc))
            continue
        plugin_headers.extend(sipheaders.Header(n, v, f"plugin:{name}") for n, v in pairs)
    failures = _report(failures, (call.key, getattr(buyer, "sip_password", ""),
                                  values.get("call_key", "")))
    return defaults, plugin_headers, buyers, failures


def collect_token_values(
    call: CallInfo, *, app: Flask | None = None
) -> tuple[dict[str, str], dict[str, str], list[PluginFailure]]:
    """Call every ``token_values`` implementation for one call.

    Returns ``(values, sources, failures)``: the extra token values, where each
    came from (``{"crm_score": "plugin:crm_lookup"}``) and the skipped plugins
    or keys. Plugins run in name order; a later plugin's value for the same key
    replaces an earlier one. Keys must match ``[a-z0-9_]+`` and must not be a
    built-in token name; values must be strings (valid Unicode, no NUL); other
    keys are dropped (and reported), the rest of that plugin's values are kept.
    """
    from sipflask.core.tokens import BUILTIN_TOKENS

    app = app if app is not None else current_app._get_current_object()
    failures: list[PluginFailure] = []
    values: dict[str, str] = {}
    sources: dict[str, str] = {}

    def make_kwargs() -> dict[str, Any]:
        return {"call": copy.deepcopy(call)}

    for name, result in _call_third_party(app, "token_values", make_kwargs, failures):
        if result is None:
            continue
        if not isinstance(result, Mapping):
            _fail(failures, name, "token_values",
                  f"returned {type(result).__name__}, expected a dict of str to str")
            continue
        for key, value in result.items():
            if not isinstance(key, str) or not _TOKEN_NAME_RE.match(key):
                _fail(failures, name, "token_values",
                      f"dropped key {str(key)[:60]!r}: token names use lowercase letters, "
                      "digits and _")
            elif key in BUILTIN_TOKENS:
                _fail(failures, name, "token_values",
                      f"dropped key {key!r}: it is a built-in token name")
            elif not isinstance(value, str):
                _fail(failures, name, "token_values",
                      f"dropped key {key!r}: value is {type(value).__name__}, not str")
            elif problem := _text_problem(value):
                _fail(failures, name, "token_values", f"dropped key {key!r}: value {problem}")
            else:
                values[key] = value
                sources[key] = f"plugin:{name}"
    return values, sources, _report(failures, (call.key,))


# --------------------------------------------------------------------------
# Listing


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

    def key(row: dict[str, Any]) -> tuple[int, int, str]:
        name = row["name"]
        if name in BUILTIN_NAMES:
            return (0, BUILTIN_NAMES.index(name), "")
        return (1, 0, name)

    return sorted(rows, key=key)
