"""Indexes for the list and search queries at a million meetings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:00:00

The composite indexes let a list filtered by one organiser, bridge, actor or status read
that key's rows in the order the list returns them. The trigram (pg_trgm) GIN indexes
serve the ``LIKE``/``ILIKE '%...%'`` searches of people and of the resolution register on
PostgreSQL; SQLite has no such index type and scans those two tables. pg_trgm is a trusted
extension since PostgreSQL 13, so the database owner can create it without superuser rights.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# (name, table, columns); the same on both databases.
_BTREE = [
    ('ix_meeting_organiser_starts', 'meeting', ['organiser_id', 'starts_at']),
    ('ix_meeting_bridge_starts', 'meeting', ['bridge_id', 'starts_at']),
    ('ix_meeting_chair_id', 'meeting', ['chair_id']),
    ('ix_meeting_secretary_id', 'meeting', ['secretary_id']),
    ('ix_person_department_id', 'person', ['department_id']),
    ('ix_audit_event_actor_email', 'audit_event', ['actor_email', 'occurred_at']),
    ('ix_outbox_message_created_at', 'outbox_message', ['created_at']),
]
# The composite indexes above start with these columns and replace their single-column indexes.
_REPLACED = [
    ('ix_meeting_organiser_id', 'meeting', ['organiser_id']),
    ('ix_meeting_bridge_id', 'meeting', ['bridge_id']),
]
# (name, table, column or expression); PostgreSQL only.
_TRIGRAM = [
    ('ix_person_email_trgm', 'person', 'email'),
    ('ix_person_name_trgm', 'person', 'lower(name)'),
    ('ix_minutes_resolution_text_trgm', 'minutes_resolution', 'text'),
    ('ix_minutes_resolution_responsible_trgm', 'minutes_resolution', 'responsible'),
]


# Open and in-progress items by due date, for the overdue list and the owner's open items.
_ACTIVE_ITEMS = "status IN ('open', 'in_progress')"


def upgrade() -> None:
    for name, table, columns in _BTREE:
        op.create_index(name, table, columns)
    op.create_index(
        'ix_action_item_active_due', 'action_item', ['due_date'],
        postgresql_where=sa.text(_ACTIVE_ITEMS), sqlite_where=sa.text(_ACTIVE_ITEMS),
    )
    for name, table, _columns in _REPLACED:
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for name, table, column in _TRIGRAM:
            op.execute(f'CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, _table, _column in reversed(_TRIGRAM):
            op.execute(f'DROP INDEX IF EXISTS {name}')
    for name, table, columns in _REPLACED:
        op.create_index(name, table, columns)
    op.drop_index('ix_action_item_active_due', table_name='action_item')
    for name, table, _columns in reversed(_BTREE):
        op.drop_index(name, table_name=table)
    # pg_trgm stays installed, because other objects of the database may use it.
