"""Materials point at their agenda item by id instead of by position.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 00:30:00

A material used to store the position of its agenda item, so reordering or removing items
moved the file to whichever item took that position. The new column ``agenda_item_id``
references the item itself; removing the item turns the file into a material of the whole
meeting (ON DELETE SET NULL). Existing rows get the id of the item at their stored
position; a position without an item becomes a whole-meeting material.
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('material', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agenda_item_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_material_agenda_item_id_agenda_item'), 'agenda_item', ['agenda_item_id'], ['id'], ondelete='SET NULL'
        )
        batch_op.create_index(batch_op.f('ix_material_agenda_item_id'), ['agenda_item_id'], unique=False)
    op.execute(
        'UPDATE material SET agenda_item_id = ('
        ' SELECT agenda_item.id FROM agenda_item'
        ' WHERE agenda_item.meeting_id = material.meeting_id AND agenda_item.position = material.agenda_position'
        ' ORDER BY agenda_item.created_at, agenda_item.id LIMIT 1'
        ') WHERE agenda_position IS NOT NULL'
    )
    with op.batch_alter_table('material', schema=None) as batch_op:
        batch_op.drop_column('agenda_position')


def downgrade() -> None:
    with op.batch_alter_table('material', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agenda_position', sa.Integer(), nullable=True))
    op.execute(
        'UPDATE material SET agenda_position = ('
        ' SELECT agenda_item.position FROM agenda_item WHERE agenda_item.id = material.agenda_item_id'
        ') WHERE agenda_item_id IS NOT NULL'
    )
    with op.batch_alter_table('material', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_material_agenda_item_id'))
        batch_op.drop_constraint(batch_op.f('fk_material_agenda_item_id_agenda_item'), type_='foreignkey')
        batch_op.drop_column('agenda_item_id')
