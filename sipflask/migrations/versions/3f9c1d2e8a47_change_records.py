"""change history: the change_records table

Revision ID: 3f9c1d2e8a47
Revises: b7e4f2a91c30
Create Date: 2026-12-02 12:00:00

An empty history: changes made before this migration are not known.
"""
import sqlalchemy as sa
from alembic import op

import sipflask.models

# revision identifiers, used by Alembic.
revision = '3f9c1d2e8a47'
down_revision = 'c3a9d5e1f7b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'change_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sipflask.models.TZDateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_label', sa.String(length=254), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('record_type', sa.String(length=16), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=True),
        sa.Column('record_ref', sa.String(length=254), nullable=False),
        sa.Column('record_label', sa.String(length=200), nullable=False),
        sa.Column('action', sa.String(length=8), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('snapshot', sa.JSON(), nullable=True),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_change_records')))
    with op.batch_alter_table('change_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_records_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_records_actor_id'), ['actor_id'],
                              unique=False)
        batch_op.create_index('ix_change_records_record', ['record_type', 'record_id', 'id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('change_records', schema=None) as batch_op:
        batch_op.drop_index('ix_change_records_record')
        batch_op.drop_index(batch_op.f('ix_change_records_actor_id'))
        batch_op.drop_index(batch_op.f('ix_change_records_at'))
    op.drop_table('change_records')
