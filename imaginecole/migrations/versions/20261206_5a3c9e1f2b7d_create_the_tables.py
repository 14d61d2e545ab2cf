"""Create every table, as release 0.1 (the last without migrations) made them.

A database that release made is recognised and marked as being at this revision instead
(see imaginecole/schema.py).

Revision ID: 5a3c9e1f2b7d
Revises: (none)
Create Date: 2026-12-06 00:52:09.035688
"""

import sqlalchemy as sa
from alembic import op

revision = "5a3c9e1f2b7d"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asset",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_asset")),
    )
    op.create_table(
        "built_bundle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("module_count", sa.Integer(), nullable=False),
        sa.Column("publisher_key_id", sa.String(length=64), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_built_bundle")),
        sa.UniqueConstraint(
            "country_code", "channel", "version", name=op.f("uq_built_bundle_country_code")
        ),
    )
    op.create_table(
        "country",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("framework_id", sa.String(length=80), nullable=False),
        sa.Column("framework_version", sa.String(length=40), nullable=False),
        sa.Column("framework_title", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_country")),
    )
    op.create_table(
        "exported_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("submission_count", sa.Integer(), nullable=False),
        sa.Column("revision_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exported_package")),
    )
    op.create_table(
        "installed_bundle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.Column("publisher_key_id", sa.String(length=64), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("module_count", sa.Integer(), nullable=False),
        sa.Column("removed_count", sa.Integer(), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_bundle")),
        sa.UniqueConstraint(
            "country_code", "channel", "version", name=op.f("uq_installed_bundle_country_code")
        ),
    )
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    op.create_index(op.f("ix_login_failure_address"), "login_failure", ["address"])
    op.create_index(op.f("ix_login_failure_at"), "login_failure", ["at"])
    op.create_index(op.f("ix_login_failure_email"), "login_failure", ["email"])

    op.create_table(
        "received_package",
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("school_key_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("manifest_sha256", name=op.f("pk_received_package")),
    )
    op.create_table(
        "cycle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_cycle_country_code_country"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle")),
        sa.UniqueConstraint("country_code", "code", name=op.f("uq_cycle_country_code")),
    )
    op.create_table(
        "domain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_domain_country_code_country"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain")),
        sa.UniqueConstraint("country_code", "slug", name=op.f("uq_domain_country_code")),
    )
    op.create_table(
        "enrolled_school",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_enrolled_school_country_code_country")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_enrolled_school")),
    )
    op.create_table(
        "image_variant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_sha256", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=80), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_sha256"],
            ["asset.sha256"],
            name=op.f("fk_image_variant_asset_sha256_asset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_variant")),
    )
    op.create_index(op.f("ix_image_variant_asset_sha256"), "image_variant", ["asset_sha256"])
    op.create_index(op.f("ix_image_variant_sha256"), "image_variant", ["sha256"])

    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=True),
        sa.Column("school", sa.String(length=200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_user_country_code_country")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
    )
    op.create_table(
        "build_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=20), nullable=False),
        sa.Column("error_detail", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_build_job_country_code_country")
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"], ["user.id"], name=op.f("fk_build_job_editor_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_job")),
        sa.UniqueConstraint("country_code", "active", name=op.f("uq_build_job_country_code")),
    )
    op.create_index(op.f("ix_build_job_country_code"), "build_job", ["country_code"])
    op.create_index(op.f("ix_build_job_status"), "build_job", ["status"])

    op.create_table(
        "content_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_content_upload_country_code_country")
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"], ["user.id"], name=op.f("fk_content_upload_editor_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["user.id"], name=op.f("fk_content_upload_published_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_upload")),
    )
    op.create_index(op.f("ix_content_upload_country_code"), "content_upload", ["country_code"])
    op.create_index(op.f("ix_content_upload_status"), "content_upload", ["status"])

    op.create_table(
        "curriculum_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("toml", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["user.id"],
            name=op.f("fk_curriculum_version_changed_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_curriculum_version_country_code_country"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_version")),
        sa.UniqueConstraint(
            "country_code", "number", name=op.f("uq_curriculum_version_country_code")
        ),
    )
    op.create_index(
        op.f("ix_curriculum_version_country_code"), "curriculum_version", ["country_code"]
    )

    op.create_table(
        "level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("isced", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_level_country_code_country"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycle.id"], name=op.f("fk_level_cycle_id_cycle")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_level")),
        sa.UniqueConstraint("country_code", "slug", name=op.f("uq_level_country_code")),
    )
    op.create_table(
        "module_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_uid", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["user.id"],
            name=op.f("fk_module_version_changed_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_module_version")),
        sa.UniqueConstraint("module_uid", "version", name=op.f("uq_module_version_module_uid")),
    )
    op.create_index(op.f("ix_module_version_module_uid"), "module_version", ["module_uid"])

    op.create_table(
        "subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_subject_country_code_country"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domain.id"], name=op.f("fk_subject_domain_id_domain")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject")),
        sa.UniqueConstraint("country_code", "slug", name=op.f("uq_subject_country_code")),
    )
    op.create_table(
        "submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("school_key_id", sa.String(length=64), nullable=True),
        sa.Column("school_name", sa.String(length=200), nullable=False),
        sa.Column("teacher_ref", sa.String(length=200), nullable=False),
        sa.Column("teacher_name", sa.String(length=200), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("duplicate_of", sa.String(length=64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("withdrawal_acknowledged", sa.Boolean(), nullable=False),
        sa.Column("module_uid", sa.String(length=120), nullable=True),
        sa.Column("reviewed_revision_uid", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user.id"], name=op.f("fk_submission_author_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_submission_country_code_country")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission")),
        sa.UniqueConstraint("uid", name=op.f("uq_submission_uid")),
    )
    op.create_index(op.f("ix_submission_country_code"), "submission", ["country_code"])
    op.create_index(op.f("ix_submission_school_key_id"), "submission", ["school_key_id"])
    op.create_index(op.f("ix_submission_status"), "submission", ["status"])

    op.create_table(
        "upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("media_type", sa.String(length=80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_upload_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload")),
    )
    op.create_index(op.f("ix_upload_user_id"), "upload", ["user_id"])

    op.create_table(
        "competency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_competency_country_code_country"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["competency.id"],
            name=op.f("fk_competency_parent_id_competency"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_competency_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competency")),
        sa.UniqueConstraint("country_code", "code", name=op.f("uq_competency_country_code")),
    )
    op.create_table(
        "module",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=120), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("licence", sa.String(length=60), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("derived_from", sa.JSON(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("attribution", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_module_country_code_country")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_module_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_module")),
        sa.UniqueConstraint("uid", name=op.f("uq_module_uid")),
    )
    op.create_index(op.f("ix_module_country_code"), "module", ["country_code"])
    op.create_index(op.f("ix_module_subject_id"), "module", ["subject_id"])

    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("revision_uid", sa.String(length=64), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["user.id"], name=op.f("fk_review_reviewer_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_review_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
    )
    op.create_index(op.f("ix_review_submission_id"), "review", ["submission_id"])

    op.create_table(
        "revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("parent_uid", sa.String(length=64), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("competencies", sa.JSON(), nullable=False),
        sa.Column("licence", sa.String(length=40), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.Column("exported", sa.Boolean(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_revision_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revision")),
        sa.UniqueConstraint("submission_id", "uid", name=op.f("uq_revision_submission_id")),
    )
    op.create_index(op.f("ix_revision_content_hash"), "revision", ["content_hash"])
    op.create_index(op.f("ix_revision_submission_id"), "revision", ["submission_id"])

    op.create_table(
        "competency_levels",
        sa.Column("competency_id", sa.Integer(), nullable=False),
        sa.Column("level_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["competency_id"],
            ["competency.id"],
            name=op.f("fk_competency_levels_competency_id_competency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["level.id"],
            name=op.f("fk_competency_levels_level_id_level"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("competency_id", "level_id", name=op.f("pk_competency_levels")),
    )
    op.create_table(
        "lesson",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_lesson_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson")),
        sa.UniqueConstraint("module_id", "slug", name=op.f("uq_lesson_module_id")),
    )
    op.create_index(op.f("ix_lesson_module_id"), "lesson", ["module_id"])

    op.create_table(
        "module_assets",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("asset_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_sha256"], ["asset.sha256"], name=op.f("fk_module_assets_asset_sha256_asset")
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_module_assets_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("module_id", "asset_sha256", name=op.f("pk_module_assets")),
    )
    op.create_table(
        "module_competency",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("competency_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["competency_id"],
            ["competency.id"],
            name=op.f("fk_module_competency_competency_id_competency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_module_competency_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "module_id", "competency_id", "relation", name=op.f("pk_module_competency")
        ),
    )
    op.create_table(
        "module_levels",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("level_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["level.id"],
            name=op.f("fk_module_levels_level_id_level"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_module_levels_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("module_id", "level_id", name=op.f("pk_module_levels")),
    )
    op.create_table(
        "lesson_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lesson.id"],
            name=op.f("fk_lesson_text_lesson_id_lesson"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_text")),
        sa.UniqueConstraint("lesson_id", "lang", name=op.f("uq_lesson_text_lesson_id")),
    )
    op.create_index(op.f("ix_lesson_text_lesson_id"), "lesson_text", ["lesson_id"])


def downgrade() -> None:
    # Each table's indexes go with it.
    op.drop_table("lesson_text")
    op.drop_table("module_levels")
    op.drop_table("module_competency")
    op.drop_table("module_assets")
    op.drop_table("lesson")
    op.drop_table("competency_levels")
    op.drop_table("revision")
    op.drop_table("review")
    op.drop_table("module")
    op.drop_table("competency")
    op.drop_table("upload")
    op.drop_table("submission")
    op.drop_table("subject")
    op.drop_table("module_version")
    op.drop_table("level")
    op.drop_table("curriculum_version")
    op.drop_table("content_upload")
    op.drop_table("build_job")
    op.drop_table("user")
    op.drop_table("image_variant")
    op.drop_table("enrolled_school")
    op.drop_table("domain")
    op.drop_table("cycle")
    op.drop_table("received_package")
    op.drop_table("login_failure")
    op.drop_table("installed_bundle")
    op.drop_table("exported_package")
    op.drop_table("country")
    op.drop_table("built_bundle")
    op.drop_table("asset")
