"""buyer hours and time zone, hourly/monthly/lifetime caps on the buyer's clock, account zone

Revision ID: b7e4f2a91c30
Revises: 5c1e0a7d9b21
Create Date: 2026-12-01 23:00:00

Existing buyers become open 24/7 in UTC, counting dialled attempts (today's behaviour); their
lifetime counter starts at the attempts they have already been offered.
"""
import sqlalchemy as sa
from alembic import op

import sipflask.models

# revision identifiers, used by Alembic.
revision = 'b7e4f2a91c30'
down_revision = '5c1e0a7d9b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=True),
        sa.Column('updated_at', sipflask.models.TZDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_settings')))
    with op.batch_alter_table('buyers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hourly_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('monthly_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('total_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cap_counts', sa.String(length=16), nullable=False,
                                      server_default='dialled'))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=False,
                                      server_default='UTC'))
        batch_op.add_column(sa.Column('hours', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('closures', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('calls_hour', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('calls_hour_key', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('calls_month', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('calls_month_key', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('calls_total', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.create_check_constraint(
            'hourly_cap', sa.text('hourly_cap IS NULL OR hourly_cap >= 0'))
        batch_op.create_check_constraint(
            'monthly_cap', sa.text('monthly_cap IS NULL OR monthly_cap >= 0'))
        batch_op.create_check_constraint(
            'total_cap', sa.text('total_cap IS NULL OR total_cap >= 0'))
        batch_op.create_check_constraint(
            'cap_counts', sa.text("cap_counts IN ('dialled', 'connected')"))
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cap_place', sa.Boolean(), nullable=False,
                                      server_default=sa.text('false')))
        batch_op.add_column(sa.Column('cap_hour', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('cap_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('cap_month', sa.String(length=7), nullable=True))
    op.execute("UPDATE buyers SET calls_total = (SELECT count(*) FROM attempts "
               "WHERE attempts.buyer_id = buyers.id)")


def downgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('cap_month')
        batch_op.drop_column('cap_day')
        batch_op.drop_column('cap_hour')
        batch_op.drop_column('cap_place')
    with op.batch_alter_table('buyers', schema=None) as batch_op:
        batch_op.drop_constraint('cap_counts', type_='check')
        batch_op.drop_constraint('total_cap', type_='check')
        batch_op.drop_constraint('monthly_cap', type_='check')
        batch_op.drop_constraint('hourly_cap', type_='check')
        for name in ('calls_total', 'calls_month_key', 'calls_month', 'calls_hour_key',
                     'calls_hour', 'closures', 'hours', 'time_zone', 'cap_counts', 'total_cap',
                     'monthly_cap', 'hourly_cap'):
            batch_op.drop_column(name)
    op.drop_table('account_settings')
