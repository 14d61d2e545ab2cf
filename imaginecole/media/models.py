"""Media files, stored once by the SHA-256 of their bytes, and resized image variants."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.extensions import db


class Asset(db.Model):
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)

    variants: Mapped[list[ImageVariant]] = relationship(
        order_by="ImageVariant.width", cascade="all, delete-orphan", back_populates="asset"
    )

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


class ImageVariant(db.Model):
    """One resized copy of an image, itself a blob named by its hash."""

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_sha256: Mapped[str] = mapped_column(
        ForeignKey("asset.sha256", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(80))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)

    asset: Mapped[Asset] = relationship(back_populates="variants")
