"""Reports: calls, connects, conversions and revenue grouped by campaign, publisher, buyer,
number, tag and time, over local dates in the account zone (docs/reports.md).

``reports/query.py`` is the entry point (a report, its JSON, the call log behind a row),
``reports/ranges.py`` the dates, ``reports/series.py`` the charts' series,
``reports/export.py`` the CSV.
"""
