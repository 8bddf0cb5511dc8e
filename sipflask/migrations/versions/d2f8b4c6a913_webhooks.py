"""webhooks: outbound webhooks on call events, their headers, deliveries and tries

Revision ID: d2f8b4c6a913
Revises: c6e1a9d3f472
Create Date: 2026-12-10 12:00:00

New tables only: nothing existing changes, and no webhook exists until one is set up. A
delivery's webhook_id is not a foreign key on purpose (sipflask/webhooks/model.py).
"""
import sqlalchemy as sa
from alembic import op

import sipflask.models

# revision identifiers, used by Alembic.
revision = 'd2f8b4c6a913'
down_revision = 'c6e1a9d3f472'
branch_labels = None
depends_on = None


def _webhooks(ts):
    op.create_table(
        'webhooks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ref', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('event', sa.String(length=32), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('method', sa.String(length=4), nullable=False),
        sa.Column('body_format', sa.String(length=4), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('include_key', sa.Boolean(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('filter_campaign_id', sa.Integer(), nullable=True),
        sa.Column('filter_publisher_id', sa.Integer(), nullable=True),
        sa.Column('filter_buyer_id', sa.Integer(), nullable=True),
        sa.Column('filter_tag_key', sa.String(length=64), nullable=False),
        sa.Column('filter_tag_value', sa.String(length=500), nullable=False),
        sa.Column('signing_secret_encrypted', sa.Text(), nullable=False),
        sa.Column('created_at', ts(), nullable=False),
        sa.Column('updated_at', ts(), nullable=False),
        sa.CheckConstraint("method IN ('GET', 'POST')", name=op.f('ck_webhooks_method')),
        sa.CheckConstraint("body_format IN ('', 'form', 'json')",
                           name=op.f('ck_webhooks_body_format')),
        sa.ForeignKeyConstraint(['filter_buyer_id'], ['buyers.id'], ondelete='CASCADE',
                                name=op.f('fk_webhooks_filter_buyer_id_buyers')),
        sa.ForeignKeyConstraint(['filter_campaign_id'], ['campaigns.id'], ondelete='CASCADE',
                                name=op.f('fk_webhooks_filter_campaign_id_campaigns')),
        sa.ForeignKeyConstraint(['filter_publisher_id'], ['publishers.id'], ondelete='CASCADE',
                                name=op.f('fk_webhooks_filter_publisher_id_publishers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks')),
        sa.UniqueConstraint('ref', name=op.f('uq_webhooks_ref')))
    for column in ('filter_buyer_id', 'filter_campaign_id', 'filter_publisher_id'):
        op.create_index(op.f(f'ix_webhooks_{column}'), 'webhooks', [column], unique=False)
    op.create_table(
        'webhook_headers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('value', sa.String(length=1024), nullable=False),
        sa.Column('secret', sa.Boolean(), nullable=False),
        sa.Column('value_encrypted', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], ondelete='CASCADE',
                                name=op.f('fk_webhook_headers_webhook_id_webhooks')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_headers')))
    op.create_index(op.f('ix_webhook_headers_webhook_id'), 'webhook_headers', ['webhook_id'],
                    unique=False)


def _deliveries(ts):
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=True),
        sa.Column('event', sa.String(length=32), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('tries', sa.Integer(), nullable=False),
        sa.Column('next_try_at', ts(), nullable=True),
        sa.Column('sending_until', ts(), nullable=True),
        sa.Column('created_at', ts(), nullable=False),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'failed', 'refused')",
                           name=op.f('ck_webhook_deliveries_state')),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='SET NULL',
                                name=op.f('fk_webhook_deliveries_call_id_calls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')))
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['next_try_at'],
                    unique=False, postgresql_where=sa.text("state = 'pending'"),
                    sqlite_where=sa.text("state = 'pending'"))
    op.create_index('ix_webhook_deliveries_webhook', 'webhook_deliveries', ['webhook_id', 'id'],
                    unique=False)
    op.create_index('ix_webhook_deliveries_call', 'webhook_deliveries', ['call_id'],
                    unique=False)
    op.create_table(
        'webhook_delivery_tries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('at', ts(), nullable=False),
        sa.Column('request_summary', sa.JSON(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=False),
        sa.Column('response_headers', sa.JSON(), nullable=False),
        sa.Column('response_body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE',
                                name=op.f('fk_webhook_delivery_tries_delivery_id_webhook_deliveries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery_tries')))
    op.create_index(op.f('ix_webhook_delivery_tries_delivery_id'), 'webhook_delivery_tries',
                    ['delivery_id'], unique=False)


def upgrade():
    ts = sipflask.models.TZDateTime
    _webhooks(ts)
    _deliveries(ts)


def downgrade():
    op.drop_index(op.f('ix_webhook_delivery_tries_delivery_id'),
                  table_name='webhook_delivery_tries')
    op.drop_table('webhook_delivery_tries')
    for name in ('ix_webhook_deliveries_call', 'ix_webhook_deliveries_webhook',
                 'ix_webhook_deliveries_due'):
        op.drop_index(name, table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index(op.f('ix_webhook_headers_webhook_id'), table_name='webhook_headers')
    op.drop_table('webhook_headers')
    for column in ('filter_publisher_id', 'filter_campaign_id', 'filter_buyer_id'):
        op.drop_index(op.f(f'ix_webhooks_{column}'), table_name='webhooks')
    op.drop_table('webhooks')
