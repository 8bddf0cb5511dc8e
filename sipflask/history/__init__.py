"""The change history (audit trail) of setup records and users: who changed what, when, from
where, field by field, with secrets recorded only as "changed".

:mod:`.record` writes it (the setup writers call ``track``/``track_delete``); :mod:`.users`
listens to the ``User`` mapper; :mod:`.context` says who and from where; :mod:`.snapshots`
turns rows into versions; :mod:`.queries` reads it for the pages and the export;
:mod:`.restore` puts a buyer or campaign back to an earlier version through its writer.
"""
from __future__ import annotations

from sipflask.history import users  # noqa: F401  (registers the User listeners)
from sipflask.history.context import CLI, IMPORT, SYSTEM, WEB, acting
from sipflask.history.record import track, track_delete

__all__ = ["CLI", "IMPORT", "SYSTEM", "WEB", "acting", "track", "track_delete"]
