"""endpoint health: per-buyer health-check settings, the health state and its changes

Revision ID: 9d4e2b7c1a53
Revises: 3f9c1d2e8a47
Create Date: 2026-12-02 15:00:00

Existing buyers start with health checks off (routing as before).
"""
import sqlalchemy as sa
from alembic import op

import sipflask.models

# revision identifiers, used by Alembic.
revision = '9d4e2b7c1a53'
down_revision = '3f9c1d2e8a47'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('buyers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_check', sa.String(length=8), nullable=False,
                                      server_default='off'))
        batch_op.add_column(sa.Column('health_codes', sa.String(length=200), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('health_down_after', sa.Integer(), nullable=False,
                                      server_default='3'))
        batch_op.add_column(sa.Column('health_up_after', sa.Integer(), nullable=False,
                                      server_default='2'))
        batch_op.create_check_constraint(
            'health_check', sa.text("health_check IN ('off', 'options', 'calls')"))
        batch_op.create_check_constraint(
            'health_down_after', sa.text('health_down_after BETWEEN 1 AND 100'))
        batch_op.create_check_constraint(
            'health_up_after', sa.text('health_up_after BETWEEN 1 AND 100'))
    ts = sipflask.models.TZDateTime
    op.create_table(
        'endpoint_health',
        sa.Column('buyer_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('down_by', sa.String(length=8), nullable=False),
        sa.Column('cause', sa.String(length=300), nullable=False),
        sa.Column('changed_at', ts(), nullable=True),
        sa.Column('retry_at', ts(), nullable=True),
        sa.Column('probe_fails', sa.Integer(), nullable=False),
        sa.Column('probe_oks', sa.Integer(), nullable=False),
        sa.Column('probe_fails_since', ts(), nullable=True),
        sa.Column('probe_fail_kind', sa.String(length=80), nullable=False),
        sa.Column('call_fails', sa.Integer(), nullable=False),
        sa.Column('call_fails_since', ts(), nullable=True),
        sa.Column('last_call_code', sa.Integer(), nullable=True),
        sa.Column('last_probe_at', ts(), nullable=True),
        sa.Column('last_probe_alive', sa.Boolean(), nullable=True),
        sa.Column('last_probe', sa.String(length=300), nullable=False),
        sa.Column('next_probe_at', ts(), nullable=True),
        sa.ForeignKeyConstraint(['buyer_id'], ['buyers.id'], ondelete='CASCADE',
                                name=op.f('fk_endpoint_health_buyer_id_buyers')),
        sa.PrimaryKeyConstraint('buyer_id', name=op.f('pk_endpoint_health')))
    op.create_table(
        'endpoint_health_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('buyer_id', sa.Integer(), nullable=False),
        sa.Column('at', ts(), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('cause', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['buyer_id'], ['buyers.id'], ondelete='CASCADE',
                                name=op.f('fk_endpoint_health_events_buyer_id_buyers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_endpoint_health_events')))
    op.create_index('ix_endpoint_health_events_buyer_at', 'endpoint_health_events',
                    ['buyer_id', 'at'], unique=False)


def downgrade():
    op.drop_index('ix_endpoint_health_events_buyer_at', table_name='endpoint_health_events')
    op.drop_table('endpoint_health_events')
    op.drop_table('endpoint_health')
    with op.batch_alter_table('buyers', schema=None) as batch_op:
        batch_op.drop_constraint('health_up_after', type_='check')
        batch_op.drop_constraint('health_down_after', type_='check')
        batch_op.drop_constraint('health_check', type_='check')
        batch_op.drop_column('health_up_after')
        batch_op.drop_column('health_down_after')
        batch_op.drop_column('health_codes')
        batch_op.drop_column('health_check')
