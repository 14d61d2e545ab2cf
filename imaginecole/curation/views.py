"""National team pages: curation of a country's modules (metadata, lesson order, publication)."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from imaginecole.accounts.auth import current_user, role_required
from imaginecole.content.models import Module
from imaginecole.curation import operations as service
from imaginecole.curation.fields import FIELD_NAMES
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db
from imaginecole.i18n import current_language
from imaginecole.localized import pick
from imaginecole.search.indexing import sync_index
from imaginecole.templating import RESOURCE_TYPES
from sync.content import LANGUAGES, OPEN_LICENCES

bp = Blueprint("curation", __name__, url_prefix="/<lang>/national", template_folder="templates")

PROBLEMS = {
    "required": _l("This field is required."),
    "too_long": _l("This text is too long (at most %(limit)s characters)."),
    "too_many": _l("Give at most %(limit)s keywords."),
    "invalid_text": _l("This text contains invisible control characters; please retype it."),
    "unknown_level": _l("The class “%(value)s” is not in the curriculum of %(country)s."),
    "unknown_subject": _l("The subject “%(value)s” is not in the curriculum of %(country)s."),
    "unknown_competency": _l("The competency “%(value)s” is not in the curriculum of %(country)s."),
    "unknown_resource_type": _l("Choose from the list."),
    "closed_licence": _l("“%(value)s” is not an open licence we accept; choose one from the list."),
    "invalid_order": _l("Give every lesson a position number, then save the order again."),
    "changed_meanwhile": _l(
        "Someone else changed this module while you were working on it; it is now version "
        "%(value)s. Your changes are still below: check them and save again."
    ),
}
# What made a version of a module (``ModuleVersion.origin``), shown in its history.
ORIGIN_NAMES = {
    "files": _l("Loaded from content files"),
    "upload": _l("Upload in the browser"),
    "import": _l("Course imported by command"),
    "bundle": _l("Bundle"),
    "curation": _l("Changed in the browser"),
    "review": _l("Accepted submission"),
    "loaded": _l("Content files or a bundle"),
}
KEYWORD_SEPARATORS = re.compile(r"[,،]")  # the Arabic comma too


def _module(uid: str) -> Module:
    module = db.session.scalar(db.select(Module).filter_by(uid=uid))
    # An editor of another country learns nothing, not even that the module exists.
    if module is None or not service.can_curate(current_user(), module.country_code):
        abort(404)
    return module


def _messages(problems: dict[str, service.Problem], country: Country) -> dict[str, str]:
    name = country.shown(current_language()).text
    return {
        field: str(PROBLEMS[p.code]) % {"value": p.value, "limit": p.limit, "country": name}
        for field, p in problems.items()
    }


def _metadata_from(form: MultiDict) -> service.MetadataForm:
    return service.MetadataForm(
        title={lang: form.get(f"title_{lang}", "") for lang in LANGUAGES},
        summary={lang: form.get(f"summary_{lang}", "") for lang in LANGUAGES},
        levels=form.getlist("levels"),
        subject=form.get("subject", ""),
        competencies=form.getlist("competencies"),
        assesses=form.getlist("assesses"),
        resource_type=form.get("resource_type", ""),
        licence=form.get("licence", ""),
        attribution=form.get("attribution", ""),
        keywords=KEYWORD_SEPARATORS.split(form.get("keywords", "")),
    )


def _order_from(form: MultiDict, slugs: list[str]) -> list[str] | None:
    """Return the lesson order the form asks for; None when a position is not a whole number.

    An up or down button moves one lesson. Otherwise lessons follow their position numbers;
    on a tie the lesson whose number was changed goes first, so typing 1 puts a lesson first.
    """
    move = form.get("move", "")
    if move:
        direction, _sep, slug = move.partition(":")
        order = list(slugs)
        if slug in order and direction in ("up", "down"):
            here = order.index(slug)
            there = here - 1 if direction == "up" else here + 1
            if 0 <= there < len(order):
                order[here], order[there] = order[there], order[here]
        return order
    keys = []
    for index, slug in enumerate(slugs):
        typed = form.get(f"position-{slug}", "").strip()
        if not re.fullmatch(r"[0-9]{1,4}", typed):
            return None
        number = int(typed)
        keys.append((number, 0 if number != index + 1 else 1, index, slug))
    return [key[-1] for key in sorted(keys)]


def _expected_version() -> int | None:
    return request.form.get("version", type=int)


def _commit_change() -> None:
    db.session.commit()
    sync_index()  # after the commit: the index follows the database


def _saved(module: Module, message: str):
    flash(message, "info")
    return redirect(url_for("curation.module_edit", uid=module.uid), code=303)


@bp.route("/<string(length=2):country>/modules")
@role_required("editor")
def modules(country: str):
    found = db.session.get(Country, country)
    if found is None or not service.can_curate(current_user(), found.code):
        abort(404)
    level = request.args.get("level", "")
    subject = request.args.get("subject", "")
    return render_template(
        "curation/modules.html",
        country=found,
        modules=service.country_modules(found.code, level=level, subject=subject),
        level=level,
        subject=subject,
    )


@bp.route("/modules/<uid>/edit", methods=["GET", "POST"])
@role_required("editor")
def module_edit(uid: str):
    module = _module(uid)
    problems: dict[str, str] = {}
    version = module.version
    if request.method == "POST":
        form = _metadata_from(request.form)
        version = _expected_version()
        try:
            changed = service.update_metadata(
                module, current_user(), form, expected_version=version
            )
        except service.CurationError as error:
            problems = _messages(error.problems, module.country)
            if "version" in error.problems:
                version = module.version  # saving again, having seen the message, is deliberate
        else:
            if not changed:
                return _saved(
                    module,
                    _("Nothing changed; the module stays at version %(v)s.", v=module.version),
                )
            _commit_change()
            return _saved(
                module,
                _(
                    "Saved as version %(v)s. The next bundle will carry it to schools.",
                    v=module.version,
                ),
            )
    else:
        form = service.MetadataForm.from_module(module)
    return render_template(
        "curation/edit.html",
        module=module,
        country=module.country,
        form=form,
        version=version,
        problems=problems,
        languages=LANGUAGES,
        competency_groups=service.competency_groups(module.country_code),
        resource_types=RESOURCE_TYPES,
        licences=OPEN_LICENCES,
    ), (400 if problems else 200)


@bp.route("/modules/<uid>/reorder", methods=["POST"])
@role_required("editor")
def module_reorder(uid: str):
    module = _module(uid)
    slugs = [lesson.slug for lesson in module.lessons]
    order = _order_from(request.form, slugs)
    try:
        if order is None:
            raise service.CurationError({"lessons": service.Problem("invalid_order")})
        changed = service.reorder_lessons(
            module, current_user(), order, expected_version=_expected_version()
        )
    except service.CurationError as error:
        for message in _messages(error.problems, module.country).values():
            flash(message, "error")
        return redirect(url_for("curation.module_edit", uid=uid, _anchor="lessons"), code=303)
    if not changed:
        return _saved(module, _("The lessons were already in this order."))
    _commit_change()
    return _saved(module, _("Lesson order saved as version %(v)s.", v=module.version))


def _set_published(uid: str, published: bool):
    module = _module(uid)
    try:
        changed = service.set_published(
            module, current_user(), published, expected_version=_expected_version()
        )
    except service.CurationError as error:
        for message in _messages(error.problems, module.country).values():
            flash(message, "error")
        return redirect(url_for("curation.module_edit", uid=uid), code=303)
    if not changed:
        return _saved(
            module, _("Nothing changed; the module stays at version %(v)s.", v=module.version)
        )
    _commit_change()
    if published:
        message = _(
            "Published as version %(v)s: it is back in the catalogue and search, and the next "
            "bundle carries it to schools.",
            v=module.version,
        )
    else:
        message = _(
            "Unpublished as version %(v)s: it is no longer in the catalogue or search, and the "
            "next bundle removes it from schools.",
            v=module.version,
        )
    return _saved(module, message)


@bp.route("/modules/<uid>/publish", methods=["POST"])
@role_required("editor")
def module_publish(uid: str):
    return _set_published(uid, True)


def _confirmation(module: Module, action: str, problems: dict[str, str] | None = None):
    """Show what unpublishing or deleting ``module`` does, with the button that does it."""
    return render_template(
        "curation/confirm.html",
        module=module,
        country=module.country,
        action=action,
        files=len(module.assets),
        problems=problems or {},
    ), (400 if problems else 200)


@bp.route("/modules/<uid>/unpublish", methods=["GET", "POST"])
@role_required("editor")
def module_unpublish(uid: str):
    module = _module(uid)
    if request.method == "GET" or request.form.get("confirm") != "1":
        return _confirmation(module, "unpublish")
    return _set_published(uid, False)


@bp.route("/modules/<uid>/delete", methods=["GET", "POST"])
@role_required("editor")
def module_delete(uid: str):
    module = _module(uid)
    if request.method == "GET" or request.form.get("confirm") != "1":
        return _confirmation(module, "delete")
    country = module.country_code
    try:
        version = service.delete_module(
            module, current_user(), expected_version=_expected_version()
        )
    except service.CurationError as error:
        return _confirmation(module, "delete", _messages(error.problems, module.country))
    _commit_change()
    flash(
        _(
            "Module %(uid)s deleted (recorded as version %(v)s in its history). The next "
            "bundle removes it from schools.",
            uid=uid,
            v=version,
        ),
        "info",
    )
    return redirect(url_for("curation.modules", country=country), code=303)


@bp.route("/modules/<uid>/history")
@role_required("editor")
def module_history(uid: str):
    if db.session.scalar(db.select(Module.id).filter_by(uid=uid)) is None:
        return _removed_module_history(uid)
    module = _module(uid)
    return render_template(
        "curation/history.html",
        module=module,
        uid=uid,
        title=module.shown_title(current_language()),
        version=module.version,
        country=module.country,
        versions=service.history_with_changes(uid),
        field_names=FIELD_NAMES,
        origin_names=ORIGIN_NAMES,
    )


def _removed_module_history(uid: str):
    """Show the history of a module removed from this server, its last row saying who removed it.

    As ``imaginecole module history`` does: an admin looking for a module a bundle removed finds
    when and why, not a page that does not exist.
    """
    versions = service.history_with_changes(uid)
    latest = versions[0][0] if versions else None
    if latest is None or not latest.snapshot.get("deleted"):
        abort(404)
    # Rows recorded before the country was kept with the removal: for those who manage all.
    code = latest.snapshot.get("country")
    user = current_user()
    if not (service.can_curate(user, code) if code else user.manages_all):
        abort(404)
    return render_template(
        "curation/history.html",
        module=None,
        uid=uid,
        title=pick(
            latest.snapshot.get("title"), current_language(), latest.snapshot.get("language", "fr")
        ),
        version=latest.version,
        country=db.session.get(Country, code) if code else None,
        versions=versions,
        field_names=FIELD_NAMES,
        origin_names=ORIGIN_NAMES,
    )
