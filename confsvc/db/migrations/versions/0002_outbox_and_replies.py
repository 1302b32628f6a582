"""Outbox, iTIP reply log and COUNTER proposals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 20:04:26.489399
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import advanced_alchemy.types
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('counter_proposal',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('meeting_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('proposer', sa.String(length=320), nullable=False),
    sa.Column('recurrence_id', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('proposed_start', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('proposed_end', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_counter_proposal_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counter_proposal'))
    )
    op.create_index(op.f('ix_counter_proposal_meeting_id'), 'counter_proposal', ['meeting_id'], unique=False)

    op.create_table('outbox_message',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=400), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('meeting_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'cockroachdb').with_variant(advanced_alchemy.types.json.ORA_JSONB(), 'oracle').with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('locked_until', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('claim_token', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_outbox_message_meeting_id_meeting'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_message_idempotency_key'))
    )
    op.create_index('ix_outbox_message_due', 'outbox_message', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_outbox_message_meeting_id'), 'outbox_message', ['meeting_id'], unique=False)

    op.create_table('reply_record',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('meeting_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('attendee_email', sa.String(length=320), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('partstat', sa.String(length=16), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('dtstamp', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('recurrence_id', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('delegated_to', sa.String(length=1000), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_reply_record_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_record'))
    )
    op.create_index(op.f('ix_reply_record_meeting_id'), 'reply_record', ['meeting_id'], unique=False)

    with op.batch_alter_table('agenda_item', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('meeting_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('person_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)

    with op.batch_alter_table('attendee', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('meeting_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('person_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=True)

    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('meeting_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('bridge_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=True)

    with op.batch_alter_table('bridge', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)

    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)

    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('person_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)

    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('organiser_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('chair_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=True)
        batch_op.alter_column('secretary_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=True)
        batch_op.alter_column('bridge_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=True)
        batch_op.alter_column('room_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=True)

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)
        batch_op.alter_column('department_id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=True)

    with op.batch_alter_table('room', schema=None) as batch_op:
        batch_op.alter_column('id',
               existing_type=sa.NUMERIC(precision=16),
               type_=advanced_alchemy.types.guid.GUID(length=16),
               existing_nullable=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_reply_record_meeting_id'), table_name='reply_record')
    op.drop_table('reply_record')
    op.drop_index(op.f('ix_outbox_message_meeting_id'), table_name='outbox_message')
    op.drop_index('ix_outbox_message_due', table_name='outbox_message')
    op.drop_table('outbox_message')
    op.drop_index(op.f('ix_counter_proposal_meeting_id'), table_name='counter_proposal')
    op.drop_table('counter_proposal')
