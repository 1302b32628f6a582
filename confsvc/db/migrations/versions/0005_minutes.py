"""Minutes: versions, numbering counters, resolution register, action items, templates, receipts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:15:28.133254

The follow-up columns of ``action_item`` come from the follow-up domain's own migration.
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('minutes_counter',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_counter')),
    sa.UniqueConstraint('key', name=op.f('uq_minutes_counter_key'))
    )

    op.create_table('minutes_template',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('placeholders', _json(), nullable=False),
    sa.Column('uploaded_by_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['person.id'], name=op.f('fk_minutes_template_uploaded_by_id_person'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_template')),
    sa.UniqueConstraint('name', name=op.f('uq_minutes_template_name'))
    )

    op.create_table('minutes',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('meeting_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('occurrence', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('occurrence_key', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('template', sa.String(length=200), nullable=True),
    sa.Column('actual_start', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('actual_end', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('attendance', _json(), nullable=False),
    sa.Column('notes', _json(), nullable=False),
    sa.Column('resolutions', _json(), nullable=False),
    sa.Column('action_items', _json(), nullable=False),
    sa.Column('cosigners', _json(), nullable=False),
    sa.Column('cosignatures', _json(), nullable=False),
    sa.Column('history', _json(), nullable=False),
    sa.Column('return_comment', sa.Text(), nullable=True),
    sa.Column('number', sa.String(length=100), nullable=True),
    sa.Column('number_key', sa.String(length=200), nullable=True),
    sa.Column('number_seq', sa.Integer(), nullable=True),
    sa.Column('submitted_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('approved_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('approved_by_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('distributed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('document', sa.LargeBinary(), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['person.id'], name=op.f('fk_minutes_approved_by_id_person')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_minutes_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes')),
    sa.UniqueConstraint('meeting_id', 'occurrence_key', 'version', name=op.f('uq_minutes_meeting_id')),
    sa.UniqueConstraint('number_key', 'number_seq', name=op.f('uq_minutes_number_key'))
    )
    with op.batch_alter_table('minutes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minutes_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('action_item',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('meeting_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('minutes_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('resolution_number', sa.String(length=32), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('owner_email', sa.String(length=320), nullable=False),
    sa.Column('owner_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('co_owner_emails', _json(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_action_item_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['minutes_id'], ['minutes.id'], name=op.f('fk_action_item_minutes_id_minutes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['person.id'], name=op.f('fk_action_item_owner_id_person'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_item'))
    )
    with op.batch_alter_table('action_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_item_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_item_minutes_id'), ['minutes_id'], unique=False)
        batch_op.create_index('ix_action_item_owner_status', ['owner_email', 'status'], unique=False)

    op.create_table('minutes_receipt',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('minutes_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sent_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('acknowledged_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['minutes_id'], ['minutes.id'], name=op.f('fk_minutes_receipt_minutes_id_minutes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_receipt')),
    sa.UniqueConstraint('minutes_id', 'email', name=op.f('uq_minutes_receipt_minutes_id'))
    )
    with op.batch_alter_table('minutes_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minutes_receipt_minutes_id'), ['minutes_id'], unique=False)

    op.create_table('minutes_resolution',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('minutes_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('meeting_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('decision_method', sa.String(length=32), nullable=False),
    sa.Column('votes_for', sa.Integer(), nullable=True),
    sa.Column('votes_against', sa.Integer(), nullable=True),
    sa.Column('votes_abstain', sa.Integer(), nullable=True),
    sa.Column('responsible', sa.String(length=500), nullable=False),
    sa.Column('owner_emails', _json(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_minutes_resolution_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['minutes_id'], ['minutes.id'], name=op.f('fk_minutes_resolution_minutes_id_minutes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_resolution')),
    sa.UniqueConstraint('minutes_id', 'number', name=op.f('uq_minutes_resolution_minutes_id'))
    )
    with op.batch_alter_table('minutes_resolution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minutes_resolution_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_minutes_resolution_minutes_id'), ['minutes_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_minutes_resolution_state'), ['state'], unique=False)


def downgrade() -> None:
    op.drop_table('minutes_resolution')
    op.drop_table('minutes_receipt')
    op.drop_table('action_item')
    op.drop_table('minutes')
    op.drop_table('minutes_template')
    op.drop_table('minutes_counter')
