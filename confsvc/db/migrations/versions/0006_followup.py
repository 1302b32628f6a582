"""Follow-up: reminder state on action_item, progress updates, due date history,
reminder log and the holiday table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:20:28.819842
"""

from __future__ import annotations

from datetime import UTC, datetime

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_GUID = advanced_alchemy.types.guid.GUID(length=16)
_UTC = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
_JSON = advanced_alchemy.types.JsonB


def _audit_columns() -> list[sa.Column]:
    return [
        sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
        sa.Column('created_at', _UTC, nullable=False),
        sa.Column('updated_at', _UTC, nullable=False),
    ]


def upgrade() -> None:
    op.create_table('holiday_override',
    sa.Column('id', _GUID, nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    *_audit_columns(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday_override')),
    sa.UniqueConstraint('country', 'day', name='uq_holiday_override_country_day')
    )
    op.create_table('action_item_update',
    sa.Column('id', _GUID, nullable=False),
    sa.Column('action_item_id', _GUID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('author_email', sa.String(length=320), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=True),
    sa.Column('attachment_name', sa.String(length=255), nullable=True),
    sa.Column('attachment_type', sa.String(length=127), nullable=True),
    sa.Column('attachment_size', sa.Integer(), nullable=True),
    sa.Column('attachment_path', sa.String(length=500), nullable=True),
    *_audit_columns(),
    sa.ForeignKeyConstraint(['action_item_id'], ['action_item.id'], name=op.f('fk_action_item_update_action_item_id_action_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_item_update'))
    )
    op.create_index(op.f('ix_action_item_update_action_item_id'), 'action_item_update', ['action_item_id'], unique=False)

    op.create_table('due_date_change',
    sa.Column('id', _GUID, nullable=False),
    sa.Column('action_item_id', _GUID, nullable=False),
    sa.Column('old_due_date', sa.Date(), nullable=False),
    sa.Column('new_due_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_by_email', sa.String(length=320), nullable=False),
    *_audit_columns(),
    sa.ForeignKeyConstraint(['action_item_id'], ['action_item.id'], name=op.f('fk_due_date_change_action_item_id_action_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_due_date_change'))
    )
    op.create_index(op.f('ix_due_date_change_action_item_id'), 'due_date_change', ['action_item_id'], unique=False)

    op.create_table('reminder_log',
    sa.Column('id', _GUID, nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('action_item_id', _GUID, nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('recipients', _JSON, nullable=False),
    sa.Column('overdue_days', sa.Integer(), nullable=False),
    sa.Column('sent_at', _UTC, nullable=False),
    *_audit_columns(),
    sa.ForeignKeyConstraint(['action_item_id'], ['action_item.id'], name=op.f('fk_reminder_log_action_item_id_action_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_log')),
    sa.UniqueConstraint('key', name='uq_reminder_log_key')
    )
    op.create_index(op.f('ix_reminder_log_action_item_id'), 'reminder_log', ['action_item_id'], unique=False)

    op.add_column('action_item', sa.Column('next_reminder_at', _UTC, nullable=True))
    op.add_column('action_item', sa.Column('last_reminder_on', sa.Date(), nullable=True))
    op.add_column('action_item', sa.Column('last_reminder_kind', sa.String(length=16), nullable=True))
    op.add_column('action_item', sa.Column('escalation_level', sa.Integer(), server_default='0', nullable=False))
    op.add_column('action_item', sa.Column('progress', sa.Integer(), server_default='0', nullable=False))
    op.add_column('action_item', sa.Column('approver_email', sa.String(length=320), nullable=True))
    op.add_column('action_item', sa.Column('reminder_lead_days', sa.Integer(), nullable=True))
    op.add_column('action_item', sa.Column('reminder_local_time', sa.String(length=5), nullable=True))
    op.add_column('action_item', sa.Column('escalation_days', _JSON, nullable=True))
    op.add_column('action_item', sa.Column('reminders_muted', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('action_item', sa.Column('done_at', _UTC, nullable=True))
    op.add_column('action_item', sa.Column('closed_at', _UTC, nullable=True))
    op.add_column('action_item', sa.Column('closed_by_email', sa.String(length=320), nullable=True))
    op.add_column('action_item', sa.Column('cancel_reason', sa.Text(), nullable=True))
    op.create_index('ix_action_item_next_reminder_at', 'action_item', ['next_reminder_at'], unique=False)

    # Items that existed before follow-up are due at once, so the first sweep schedules them.
    action_item = sa.table('action_item', sa.column('status', sa.String()), sa.column('next_reminder_at', _UTC))
    op.execute(
        action_item.update()
        .where(action_item.c.status.in_(('open', 'in_progress')))
        .values(next_reminder_at=datetime.now(UTC))
    )


def downgrade() -> None:
    op.drop_index('ix_action_item_next_reminder_at', table_name='action_item')
    with op.batch_alter_table('action_item', schema=None) as batch_op:
        for name in (
            'cancel_reason', 'closed_by_email', 'closed_at', 'done_at', 'reminders_muted', 'escalation_days',
            'reminder_local_time', 'reminder_lead_days', 'approver_email', 'progress', 'escalation_level',
            'last_reminder_kind', 'last_reminder_on', 'next_reminder_at',
        ):
            batch_op.drop_column(name)
    op.drop_index(op.f('ix_reminder_log_action_item_id'), table_name='reminder_log')
    op.drop_table('reminder_log')
    op.drop_index(op.f('ix_due_date_change_action_item_id'), table_name='due_date_change')
    op.drop_table('due_date_change')
    op.drop_index(op.f('ix_action_item_update_action_item_id'), table_name='action_item_update')
    op.drop_table('action_item_update')
    op.drop_table('holiday_override')
