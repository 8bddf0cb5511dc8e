"""The Reports page (``/reports/``): a range of local dates and a grouping, the table of every
group's figures with totals, and three charts drawn in the browser from ``/reports/charts.json``.

The form is a plain GET (the page works without JavaScript); with htmx a change swaps the form
and the report in place and pushes the URL. A bad argument is shown at its field, never a 500.
``/reports.json`` and ``/reports.csv`` (the scripted side, same ``group``/``from``/``to``) live
apart; docs/reports.md says what each figure means.
"""
from flask import Blueprint, jsonify, request, url_for

from sipflask.account import account_zone
from sipflask.htmx import is_htmx, render
from sipflask.reports import charts, pageargs, query
from sipflask.reports.query import ReportError
from sipflask.reports.ranges import PRESET_LABELS, PRESETS

bp = Blueprint("reports", __name__, url_prefix="/reports")

# Errors that leave nothing to report (the sort falls back to its default instead).
BLOCKING = ("range", "from", "to", "group", "tag")


@bp.app_template_filter("talktime")
def talktime(seconds) -> str:
    """``1h 02m``, ``4m 05s``, ``37s``: talk time at a glance."""
    seconds = int(round(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@bp.app_template_filter("percent")
def percent(rate) -> str:
    return f"{(rate or 0) * 100:.1f}%"


@bp.route("/")
def index():
    view = pageargs.read(request.args, query.local_today())
    report = rows = None
    if not any(name in view.errors for name in BLOCKING):
        try:
            report = query.build_report(view.group, view.date_from, view.date_to)
        except ReportError as e:  # checked above already; a last word from the queries
            view.errors[_field(e.field, view)] = str(e)
        else:
            rows = pageargs.sorted_rows(report.rows, view)
    status = 200 if report or not is_htmx() else 422
    groups = _group_choices()
    return render("reports/index.html", "reports/partial/view.html", view=view, report=report,
                  rows=rows, presets=[(p, PRESET_LABELS[p]) for p in PRESETS], groups=groups,
                  group_label=dict(groups).get(view.group_choice, ""),
                  tag_keys=pageargs.tag_keys(), columns=pageargs.COLUMNS,
                  chart_url=_chart_url(view),
                  bucket=report and charts.default_bucket(view.date_from, view.date_to)), status


@bp.app_template_global("report_row_link")
def row_link(report, row) -> str | None:
    """The call log filtered to ``row``'s calls, or None where it has no filter for them (the
    "No campaign" row, an hour of the day): a link to every call of the range would mislead."""
    args = query.call_log_args(report, row)
    if report.group != "day" and set(args) <= {"date_from", "date_to"}:
        return None
    return url_for("calls.index", **args)


def _field(name: str, view: pageargs.PageArgs) -> str:
    return "tag" if name == "group" and view.group_choice == "tag" else name


def _group_choices() -> list[tuple[str, str]]:
    return [(g, query.GROUP_LABELS[g]) for g in query.GROUPS] + [("tag", "Tag value")]


def _chart_url(view: pageargs.PageArgs):
    """The URL of one chart's figures for this view's dates."""
    def url(chart: str, **extra) -> str:
        return url_for("reports.charts_json", chart=chart,
                       **{"from": view.date_from.isoformat(), "to": view.date_to.isoformat()},
                       **extra)
    return url


@bp.route("/charts.json")
def charts_json():
    """One chart's figures (``chart=outcomes|connect_rate|revenue``, ``from``, ``to``,
    ``bucket=hour|day``); a bad argument answers 400 with the message and the argument."""
    try:
        chart, date_from, date_to, bucket = charts.read(request.args)
        body = charts.chart_json(chart, date_from, date_to, bucket, account_zone().key)
    except ReportError as e:
        return jsonify(error=str(e), field=e.field), 400
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
