"""reports: what each call and attempt counts for, kept with them, and the indexes reports read

Revision ID: c6e1a9d3f472
Revises: b8d4f0a2c365
Create Date: 2026-12-12 12:00:00

Calls get routed, connected, answered_buyer_id, talk_seconds, fail_codes, skip_kinds and
caller_num; attempts get placed, call_created_at and caller_num (docs/reports.md, "Speed").
``callflow/store.py`` keeps them from now on; :func:`backfill` computes them for the calls
already stored, from their attempts, as the call log shows them:

- an attempt was placed unless it failed without a SIP code or TwiML and its skip list says
  "not dialled: " (sipflask could not build the number);
- a no-buyer call's skip kinds come from its attempts' skip lists or, without attempts, from its
  stored reason ("no buyer available: <buyer>: <reason>; ...").

``ix_calls_report`` (created_at first) replaces ``ix_calls_created_at``: the call log's order is
its leading column.
"""
import json

import sqlalchemy as sa
from alembic import op

import sipflask.models

# revision identifiers, used by Alembic.
revision = 'c6e1a9d3f472'
down_revision = 'b8d4f0a2c365'
branch_labels = None
depends_on = None

ANSWERED = "('completed', 'answered')"
REPORT_COLUMNS = ['created_at', 'id', 'campaign_id', 'publisher_id', 'number_id', 'status',
                  'routed', 'connected', 'converted', 'revenue', 'talk_seconds',
                  'answered_buyer_id', 'caller_num', 'sub_id']
WHY_COLUMNS = ['created_at', 'campaign_id', 'publisher_id', 'number_id', 'sub_id', 'status',
               'routed', 'fail_codes', 'skip_kinds']
WHY = "fail_codes IS NOT NULL OR skip_kinds IS NOT NULL"


def upgrade():
    # Defaults as plain constants: SQLite adds such columns in place, where an expression
    # (sa.text('false')) would make the batch copy the table, and dropping the old calls table
    # would delete every attempt (ON DELETE CASCADE, foreign keys on).
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routed', sa.Boolean(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('connected', sa.Boolean(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('answered_buyer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('talk_seconds', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('fail_codes', sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column('skip_kinds', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('caller_num', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placed', sa.Boolean(), nullable=False,
                                      server_default='1'))
        batch_op.add_column(sa.Column('call_created_at', sipflask.models.TZDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('caller_num', sa.BigInteger(), nullable=True))
    backfill(op.get_bind())
    # Committed first, then indexed: built in the backfill's transaction, the indexes would
    # also hold every row's version from before the backfill (2-3x their size, for good).
    with op.get_context().autocommit_block():
        op.drop_index('ix_calls_created_at', table_name='calls', if_exists=True)
        op.create_index('ix_calls_report', 'calls', REPORT_COLUMNS, unique=False,
                        if_not_exists=True)
        op.create_index('ix_calls_report_text', 'calls', ['created_at'], unique=False,
                        postgresql_where=sa.text('caller_num IS NULL'),
                        sqlite_where=sa.text('caller_num IS NULL'), if_not_exists=True)
        op.create_index('ix_calls_report_why', 'calls', WHY_COLUMNS, unique=False,
                        postgresql_where=sa.text(WHY), sqlite_where=sa.text(WHY),
                        if_not_exists=True)
        op.create_index('ix_attempts_report', 'attempts', ['buyer_id', 'call_created_at',
                                                           'placed', 'caller_num', 'call_id'],
                        unique=False, if_not_exists=True)
        op.create_index('ix_attempts_report_text', 'attempts', ['call_created_at'], unique=False,
                        postgresql_where=sa.text('caller_num IS NULL'),
                        sqlite_where=sa.text('caller_num IS NULL'), if_not_exists=True)
        op.create_index('ix_attempts_report_why', 'attempts',
                        ['call_created_at', 'buyer_id', 'sip_code'], unique=False,
                        postgresql_where=sa.text('sip_code >= 300'),
                        sqlite_where=sa.text('sip_code >= 300'), if_not_exists=True)


def downgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_report_why')
        batch_op.drop_index('ix_attempts_report_text')
        batch_op.drop_index('ix_attempts_report')
        batch_op.drop_column('caller_num')
        batch_op.drop_column('call_created_at')
        batch_op.drop_column('placed')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_report_why')
        batch_op.drop_index('ix_calls_report_text')
        batch_op.drop_index('ix_calls_report')
        batch_op.create_index('ix_calls_created_at', ['created_at'], unique=False)
        batch_op.drop_column('caller_num')
        batch_op.drop_column('skip_kinds')
        batch_op.drop_column('fail_codes')
        batch_op.drop_column('talk_seconds')
        batch_op.drop_column('answered_buyer_id')
        batch_op.drop_column('connected')
        batch_op.drop_column('routed')


# --- the backfill (also run by bench/reports.py on its bulk-loaded calls) ---------------------

def backfill(conn) -> None:
    """Compute the new columns of every stored call and attempt (SQLite and PostgreSQL): one
    UPDATE per table, so each row gets one new version."""
    pg = conn.dialect.name == "postgresql"
    if pg:
        # A million calls take minutes, not the 3 s a request gets (DB_STATEMENT_TIMEOUT).
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        number = ("CASE WHEN caller ~ '^\\+[1-9][0-9]{0,14}$' "
                  "THEN CAST(substr(caller, 2) AS BIGINT) END")
        joined = ("string_agg(CAST(sip_code AS TEXT) || ':' || CAST(n AS TEXT), ' ' "
                  "ORDER BY sip_code)")
    else:
        number = ("CASE WHEN caller GLOB '+[1-9]*' AND length(caller) <= 16 "
                  "AND substr(caller, 2) NOT GLOB '*[^0-9]*' "
                  "THEN CAST(substr(caller, 2) AS INTEGER) END")
        joined = "group_concat(CAST(sip_code AS TEXT) || ':' || CAST(n AS TEXT), ' ')"
    placed = (f"NOT (dial_status = 'failed' AND sip_code IS NULL AND twiml IS NULL "
              f"AND CAST(skipped AS TEXT) LIKE '%not dialled: %')")
    answered = f"dial_status IN {ANSWERED}"
    conn.execute(sa.text(f"""
UPDATE calls SET caller_num = {number}, routed = (f.routed = 1), connected = (f.connected = 1),
                 talk_seconds = f.talk, answered_buyer_id = f.buyer, fail_codes = f.codes
FROM (SELECT c.id, coalesce(a.routed, 0) AS routed, coalesce(a.connected, 0) AS connected,
             coalesce(a.talk, 0) AS talk, a.buyer, fc.codes
      FROM calls AS c
      LEFT JOIN (SELECT call_id, max(CASE WHEN {placed} THEN 1 ELSE 0 END) AS routed,
                        max(CASE WHEN {answered} THEN 1 ELSE 0 END) AS connected,
                        sum(CASE WHEN {answered} THEN duration END) AS talk,
                        max(CASE WHEN {answered} THEN buyer_id END) AS buyer
                 FROM attempts GROUP BY call_id) AS a ON a.call_id = c.id
      LEFT JOIN (SELECT call_id, {joined} AS codes
                 FROM (SELECT call_id, sip_code, count(*) AS n FROM attempts
                       WHERE sip_code >= 300 GROUP BY call_id, sip_code
                       ORDER BY call_id, sip_code) AS per_code
                 GROUP BY call_id) AS fc ON fc.call_id = c.id) AS f
WHERE f.id = calls.id"""))
    conn.execute(sa.text(
        f"UPDATE attempts SET placed = {placed}, call_created_at = c.created_at, "
        "caller_num = c.caller_num FROM calls AS c WHERE c.id = attempts.call_id"))
    _skip_kinds(conn)


def _kind(reason: str) -> str:
    # As callflow/caps.py refusal_kind words it in this revision.
    if reason.startswith("not dialled: "):
        return "not_dialled"
    if reason == "paused":
        return "paused"
    if reason.startswith("closed") or reason == "outside business hours":
        return "hours"
    if reason.startswith("unreachable"):
        return "unreachable"
    return "cap" if " cap " in f" {reason}" else "other"


def _skip_kinds(conn) -> None:
    calls = conn.execute(sa.text(
        "SELECT id, reason FROM calls WHERE status = 'no-buyer' ORDER BY id")).all()
    for i in range(0, len(calls), 1000):
        chunk = calls[i:i + 1000]
        skips: dict = {}
        rows = conn.execute(sa.text("SELECT call_id, skipped FROM attempts WHERE call_id IN "
                                    f"({', '.join(str(c.id) for c in chunk)})")).all()
        for call_id, skipped in rows:
            if isinstance(skipped, str):
                skipped = json.loads(skipped or "[]")
            skips.setdefault(call_id, []).extend(
                str(s.get("reason", "")) for s in skipped or () if isinstance(s, dict))
        updates = []
        for call in chunk:
            reasons = skips.get(call.id)
            if reasons is None:  # no attempt: the skips are in the stored reason only
                text = call.reason or ""
                head, _, rest = text.partition("no buyer available: ")
                reasons = [p.split(": ", 1)[-1] for p in rest.split("; ")] if rest else []
            kinds = {_kind(r) for r in reasons if r != "already tried"}
            updates.append({"id": call.id, "kinds": " ".join(sorted(kinds)) or "no_buyers"})
        if updates:
            conn.execute(sa.text("UPDATE calls SET skip_kinds = :kinds WHERE id = :id"), updates)
