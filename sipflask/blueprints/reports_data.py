"""Reports for scripts and spreadsheets: ``GET /reports.json`` (a contract, docs/reports.md)
and ``GET /reports.csv``, both with ``group``, ``from`` and ``to``. Any signed-in user; a bad
argument is a 400 naming it, in JSON for both (a script reads it either way); a report the
database gave up on (``DB_STATEMENT_TIMEOUT``) a 503 of the same shape, naming ``to``."""
from flask import Blueprint, Response, jsonify, request

from sipflask.reports import export
from sipflask.reports.query import ReportError, build_report, parse_args, report_json

bp = Blueprint("reports_data", __name__)


def _report():
    group, date_from, date_to = parse_args(request.args)
    return build_report(group, date_from, date_to)


def _bad(err: ReportError):
    response = jsonify({"error": str(err), "field": err.field})
    response.status_code = getattr(err, "status", 400)  # ReportTimeout: 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/reports.json")
def report_json_view():
    try:
        report = _report()
    except ReportError as err:
        return _bad(err)
    response = jsonify(report_json(report))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/reports.csv")
def report_csv_view():
    try:
        report = _report()
    except ReportError as err:
        return _bad(err)
    return Response(export.report_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{export.filename(report)}"',
                             "Cache-Control": "no-store"})
