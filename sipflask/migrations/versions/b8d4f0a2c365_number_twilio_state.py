"""numbers at twilio: each tracking number's IncomingPhoneNumber SID and its drift check

Revision ID: b8d4f0a2c365
Revises: a7c3e9f1b254
Create Date: 2026-12-09 12:00:00

Existing numbers start unlinked (no SID, never checked, no drift): the first drift check
(``flask numbers check`` or the periodic job) links each one found in the Twilio account by
its E.164 number.
"""
import sqlalchemy as sa
from alembic import op

import sipflask.models

# revision identifiers, used by Alembic.
revision = 'b8d4f0a2c365'
down_revision = 'a7c3e9f1b254'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('numbers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('twilio_sid', sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column('twilio_checked_at', sipflask.models.TZDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('twilio_drift', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('twilio_missing', sa.Boolean(), nullable=False,
                                      server_default=sa.text('false')))
        batch_op.create_unique_constraint(batch_op.f('uq_numbers_twilio_sid'), ['twilio_sid'])


def downgrade():
    with op.batch_alter_table('numbers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_numbers_twilio_sid'), type_='unique')
        batch_op.drop_column('twilio_missing')
        batch_op.drop_column('twilio_drift')
        batch_op.drop_column('twilio_checked_at')
        batch_op.drop_column('twilio_sid')
