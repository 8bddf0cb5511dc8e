"""Calling the per-call hooks for the webhook and the preview: ``sip_headers``, ``token_values``.

Built-ins run inline with the real buyer and return :class:`sipflask.core.sipheaders.Header` objects
whose ``source`` says where they go; third-party implementations run in the pool
(:mod:`~sipflask.plugins.runner`), each on its own copy of the input, and their results are
checked (:mod:`~sipflask.plugins.results`).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app

from sipflask.core import sipheaders
from sipflask.plugins import results
from sipflask.plugins.calls import CallInfo, safe_buyer
from sipflask.plugins.manager import get_manager
from sipflask.plugins.runner import PluginFailure, call_third_party, fail, report


def _third_party_headers(app: Flask, impls, call: CallInfo, buyer: Any,
                         values: Mapping[str, str], failures: list) -> list[sipheaders.Header]:
    safe = safe_buyer(buyer)

    def make_kwargs() -> dict[str, Any]:
        return {"call": copy.deepcopy(call), "buyer": copy.deepcopy(safe), "values": dict(values)}

    headers: list[sipheaders.Header] = []
    for name, result in call_third_party(app, "sip_headers", impls, make_kwargs, failures):
        try:
            pairs = results.header_pairs(result)
        except results.BadResult as exc:
            fail(failures, name, "sip_headers", str(exc))
            continue
        source = f"plugin:{name}"
        headers.extend(sipheaders.Header(n, v, source) for n, v in pairs)
    return headers


def collect_sip_headers(
    call: CallInfo,
    buyer: Any,
    values: Mapping[str, str],
    *,
    app: Flask | None = None,
) -> tuple[list[sipheaders.Header], list[sipheaders.Header], list[sipheaders.Header], list[PluginFailure]]:
    """Call every ``sip_headers`` implementation for one SIP attempt.

    Returns ``(defaults, plugin_headers, buyer_headers, failures)``: the default
    headers (source ``"default"``), plugin headers in plugin name order (source
    ``"plugin:<name>"``), the buyer's own headers with tokens expanded (source
    ``"buyer"``), and the plugins that were skipped. Merge them with
    :func:`sipflask.core.sipheaders.merge_headers` in that order (SPEC precedence).
    """
    app = app if app is not None else current_app._get_current_object()
    builtins, others = get_manager(app).impls("sip_headers")
    defaults: list[sipheaders.Header] = []
    plugin_headers: list[sipheaders.Header] = []
    buyers: list[sipheaders.Header] = []
    # Built-ins: trusted code, inline, with the real buyer; an error here is a bug.
    kwargs = {"call": call, "buyer": buyer, "values": values}
    for impl in builtins:
        for header in impl.function(**{n: kwargs[n] for n in impl.argnames}) or ():
            source = header.source
            (defaults if source == "default" else buyers if source == "buyer"
             else plugin_headers).append(header)
    if not others:
        return defaults, plugin_headers, buyers, []
    failures: list[PluginFailure] = []
    plugin_headers += _third_party_headers(app, others, call, buyer, values, failures)
    failures = report(failures, (call.key, getattr(buyer, "sip_password", ""),
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
    app = app if app is not None else current_app._get_current_object()
    _, others = get_manager(app).impls("token_values")
    failures: list[PluginFailure] = []
    values: dict[str, str] = {}
    sources: dict[str, str] = {}

    def make_kwargs() -> dict[str, Any]:
        return {"call": copy.deepcopy(call)}

    for name, result in call_third_party(app, "token_values", others, make_kwargs, failures):
        good = results.token_values(name, result, failures)
        values.update(good)
        sources.update(dict.fromkeys(good, f"plugin:{name}"))
    return values, sources, report(failures, (call.key,))

