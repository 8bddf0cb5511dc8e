"""twilio account: the Account SID, auth token and API key pair saved on the settings page

Revision ID: a7c3e9f1b254
Revises: 9d4e2b7c1a53
Create Date: 2026-12-09 10:00:00

Existing installations keep using TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN from the configuration:
the new columns start empty, and the configuration wins whenever it is set.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7c3e9f1b254'
down_revision = '9d4e2b7c1a53'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('account_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('twilio_account_sid', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('twilio_auth_token_encrypted', sa.Text(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('twilio_api_key_sid', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('twilio_api_secret_encrypted', sa.Text(), nullable=False,
                                      server_default=''))


def downgrade():
    with op.batch_alter_table('account_settings', schema=None) as batch_op:
        batch_op.drop_column('twilio_api_secret_encrypted')
        batch_op.drop_column('twilio_api_key_sid')
        batch_op.drop_column('twilio_auth_token_encrypted')
        batch_op.drop_column('twilio_account_sid')
