"""Typed SQLAlchemy/GeoAlchemy2 mappings of the core tables.

The schema itself is created by the Alembic migrations (SQL with triggers, partitions and
constraints the ORM cannot express); these mappings describe the same tables for queries,
and `tests/test_models.py` fails if they drift from the migrated database.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of OneGrid's mappings."""


def _area(kind: str) -> Mapped[WKBElement]:
    return mapped_column(Geometry(kind, srid=4326, spatial_index=False), nullable=False)


class District(Base):
    """区: the root of the hierarchy."""

    __tablename__ = "district"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str]
    geom: Mapped[WKBElement] = _area("MULTIPOLYGON")


class Street(Base):
    """街道 or 镇."""

    __tablename__ = "street"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str]
    kind: Mapped[str]
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"))
    geom: Mapped[WKBElement] = _area("MULTIPOLYGON")


class Community(Base):
    """社区 or 村."""

    __tablename__ = "community"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str]
    kind: Mapped[str]
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"))
    geom: Mapped[WKBElement] = _area("MULTIPOLYGON")


class Grid(Base):
    """网格: urban, rural, enterprise or school."""

    __tablename__ = "grid"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str]
    kind: Mapped[str]
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    geom: Mapped[WKBElement] = _area("MULTIPOLYGON")


class Worker(Base):
    """网格员."""

    __tablename__ = "worker"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    phone: Mapped[str]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    active: Mapped[bool]


class WorkerGrid(Base):
    """Which grids a worker is responsible for."""

    __tablename__ = "worker_grid"
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), primary_key=True)
    is_primary: Mapped[bool]


class AppUser(Base):
    """A login with a role and a jurisdiction."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(unique=True)
    display_name: Mapped[str]
    password_hash: Mapped[str | None]
    role: Mapped[str]
    jurisdiction_code: Mapped[str | None]
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    active: Mapped[bool]
    failed_logins: Mapped[int]
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    must_change_password: Mapped[bool]
    password_changed_at: Mapped[datetime | None]
    sso_issuer: Mapped[str | None]  # an OpenID Connect provider's account: its issuer and subject
    sso_subject: Mapped[str | None]


class Department(Base):
    """职能部门 (or the grid/community/street offices)."""

    __tablename__ = "department"
    code: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    level: Mapped[str]


class Camera(Base):
    """视频探头: a point with bearing and field of view, anchored to its grid."""

    __tablename__ = "camera"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    source_system: Mapped[str]
    preset_group: Mapped[int]
    bearing_deg: Mapped[float]
    fov_deg: Mapped[float]
    range_m: Mapped[float]
    online: Mapped[bool]
    last_seen_at: Mapped[datetime | None]
    geom: Mapped[WKBElement] = _area("POINT")
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("street.id"))
    #: the field-of-view wedge, derived from geom, bearing, fov and range by a trigger
    fov_geom: Mapped[WKBElement] = _area("POLYGON")
