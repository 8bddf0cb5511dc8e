"""``/-/plugins``: the plugins this app loaded (and those PLUGINS_ALLOW left out).

Like Datasette, the same list is at ``/-/plugins.json``. Both need a login
(the app-wide guard in ``auth.require_login`` covers every endpoint here).
"""
from flask import Blueprint, jsonify, render_template

from sipflask import plugins

bp = Blueprint("plugins_page", __name__, url_prefix="/-/plugins")


@bp.route("/")
@bp.route("")  # applied first, so url_for gives "/-/plugins"
def index():
    return render_template("plugins/index.html", plugins=plugins.plugin_info())


def as_json():
    return jsonify(plugins.plugin_info())


# "/-/plugins.json" is not under the blueprint's "/-/plugins/" prefix, so it is added on the
# app directly, under this blueprint's endpoint name ("plugins_page.as_json").
bp.record(lambda state: state.app.add_url_rule(
    "/-/plugins.json", endpoint=f"{state.name}.as_json", view_func=as_json))
