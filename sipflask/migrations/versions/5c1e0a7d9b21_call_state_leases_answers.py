"""call state: slot leases, stored answers, where the state came from, identifier sizes

Revision ID: 5c1e0a7d9b21
Revises: 073dea7ce4b9
Create Date: 2026-12-01 21:00:00

"""
import hashlib
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

import sipflask.models

# revision identifiers, used by Alembic.
revision = '5c1e0a7d9b21'
down_revision = '073dea7ce4b9'
branch_labels = None
depends_on = None


def _shorten_long_call_sids():
    """CallSids longer than Twilio's 34 characters become the digest the webhook now stores
    for them (callflow.params.call_sid), so the column can shrink and lookups still match."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, call_sid FROM calls WHERE length(call_sid) > 34"))
    for row_id, sid in rows.fetchall():
        digest = "CX" + hashlib.sha256(sid.encode("utf-8")).hexdigest()[:32]
        conn.execute(sa.text("UPDATE calls SET call_sid = :s WHERE id = :i"),
                     {"s": digest, "i": row_id})


def upgrade():
    _shorten_long_call_sids()
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state_source', sa.String(length=16), nullable=True))
        batch_op.alter_column('call_sid', existing_type=sa.String(length=64),
                              type_=sa.String(length=34), existing_nullable=True)
        batch_op.alter_column('caller', existing_type=sa.String(length=255), type_=sa.Text(),
                              existing_nullable=False)
        batch_op.alter_column('called', existing_type=sa.String(length=255), type_=sa.Text(),
                              existing_nullable=False)
        batch_op.create_index('ix_calls_open', ['created_at'], unique=False,
                              postgresql_where=sa.text('ended_at IS NULL'),
                              sqlite_where=sa.text('ended_at IS NULL'))
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_expires_at', sipflask.models.TZDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('twiml', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('answer', sa.Text(), nullable=True))
        batch_op.create_index('ix_attempts_held_leases', ['buyer_id', 'lease_expires_at'],
                              unique=False, postgresql_where=sa.text('holds_slot'),
                              sqlite_where=sa.text('holds_slot = 1'))
    # Slots held before leases existed get one from now: they stop counting in 4 hours.
    attempts = sa.table('attempts', sa.column('holds_slot', sa.Boolean()),
                        sa.column('lease_expires_at', sipflask.models.TZDateTime()))
    op.execute(attempts.update().where(attempts.c.holds_slot.is_(True))
               .values(lease_expires_at=datetime.now(timezone.utc) + timedelta(hours=4)))


def downgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_held_leases', postgresql_where=sa.text('holds_slot'),
                            sqlite_where=sa.text('holds_slot = 1'))
        batch_op.drop_column('answer')
        batch_op.drop_column('twiml')
        batch_op.drop_column('lease_expires_at')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_open', postgresql_where=sa.text('ended_at IS NULL'),
                            sqlite_where=sa.text('ended_at IS NULL'))
        batch_op.alter_column('called', existing_type=sa.Text(), type_=sa.String(length=255),
                              existing_nullable=False)
        batch_op.alter_column('caller', existing_type=sa.Text(), type_=sa.String(length=255),
                              existing_nullable=False)
        batch_op.alter_column('call_sid', existing_type=sa.String(length=34),
                              type_=sa.String(length=64), existing_nullable=True)
        batch_op.drop_column('state_source')
