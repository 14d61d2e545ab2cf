"""Accounts managed in the browser: one-time password links; teachers before their country.

A school server enrols its teachers before its first bundle brings their country, so an
account's country is no longer a foreign key. Admins hand out links with which people set
their own password; only a hash of each link is kept.

Revision ID: b7e2a9c4d1f3
Revises: 3f1d2c4b5a69
Create Date: 2026-12-06 03:45:00
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "b7e2a9c4d1f3"
down_revision = "3f1d2c4b5a69"
branch_labels = None
depends_on = None


FOREIGN_KEY = "fk_user_country_code_country"
FOREIGN_KEY_SQL = f"CONSTRAINT {FOREIGN_KEY} FOREIGN KEY(country_code) REFERENCES country (code)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Rebuilding "user" (batch mode) would drop it while other tables point at it: with
        # foreign keys on, SQLite then deletes or nulls what points at it (who changed a
        # module). Removing a FOREIGN KEY clause changes nothing on disk, and SQLite
        # documents editing the table's definition in place for it (lang_altertable.html).
        _edit_sqlite_table_sql(lambda sql: re.sub(r",\s*" + re.escape(FOREIGN_KEY_SQL), "", sql))
    else:
        op.drop_constraint(FOREIGN_KEY, "user", type_="foreignkey")
    op.create_table(
        "password_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user.id"],
            name=op.f("fk_password_link_created_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_password_link_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_link_token_hash")),
    )
    with op.batch_alter_table("password_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_link_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_link_user_id"))
    op.drop_table("password_link")
    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_table_sql(lambda sql: sql.rstrip().removesuffix(")") + f", {FOREIGN_KEY_SQL})")
    else:
        op.create_foreign_key(FOREIGN_KEY, "user", "country", ["country_code"], ["code"])


def _edit_sqlite_table_sql(edit) -> None:
    """Rewrite the CREATE statement SQLite keeps for "user", as its documentation describes."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'user'"
    ).scalar_one()
    new = edit(sql)
    if new == sql:
        return  # already as wanted (a table made without the key, before migrations)
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'user'", (new,)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = bind.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"the database reports problems after the change: {problems}")
