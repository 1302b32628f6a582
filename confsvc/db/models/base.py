from __future__ import annotations

from advanced_alchemy.base import CommonTableAttributes, UUIDv7AuditBase, orm_registry

__all__ = ["Base", "CommonTableAttributes", "orm_registry"]

Base = UUIDv7AuditBase
"""Declarative base: a UUIDv7 primary key ``id`` plus ``created_at``/``updated_at`` in UTC."""
