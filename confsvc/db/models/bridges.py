from __future__ import annotations

from typing import Any

from advanced_alchemy.types import JsonB
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from confsvc.db.models.base import Base


class Bridge(Base):
    __tablename__ = "bridge"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="static")
    capacity: Mapped[int]
    """Number of ports: the most participants the bridge takes at once."""
    dial_in: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    access_code: Mapped[str | None] = mapped_column(String(32))
    host_pin: Mapped[str | None] = mapped_column(String(32))
    participant_pin: Mapped[str | None] = mapped_column(String(32))
    settings: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    active: Mapped[bool] = mapped_column(default=True)


class Room(Base):
    __tablename__ = "room"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    location: Mapped[str | None] = mapped_column(String(300))
    capacity: Mapped[int] = mapped_column(default=0)
    equipment: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    active: Mapped[bool] = mapped_column(default=True)
