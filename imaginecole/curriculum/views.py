"""National team pages: curriculum.

The framework as a tree, an editor (the whole file in a text box, plus small forms for the
common changes), import and export as curriculum.toml, and the history of versions. Every
change is previewed first: what changes, and what happens to each module it affects.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from imaginecole.accounts.auth import current_user, role_required
from imaginecole.curriculum import operations as service
from imaginecole.curriculum.case import cf_package
from imaginecole.curriculum.models import Country
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.extensions import db
from imaginecole.i18n import current_language
from imaginecole.localized import pick
from imaginecole.search.indexing import sync_index
from sync import model as fmt
from sync.content import LANGUAGES
from sync.curriculum_file import Change, dump_curriculum
from sync.problems import Problem

bp = Blueprint("curriculum", __name__, url_prefix="/<lang>/national", template_folder="templates")

THING = {
    "cycles": _l("Cycle %(key)s"),
    "levels": _l("Level %(key)s"),
    "domains": _l("Domain %(key)s"),
    "subjects": _l("Subject %(key)s"),
    "competencies": _l("Competency %(key)s"),
}
SECTION_TITLES = {
    "cycles": _l("Cycles"),
    "levels": _l("Levels"),
    "domains": _l("Domains"),
    "subjects": _l("Subjects"),
    "competencies": _l("Competencies"),
}
FIELD_NAMES = {
    "languages": _l("Languages of instruction"),
    "name": _l("Country name"),
    "framework_id": _l("Framework id"),
    "framework_version": _l("Framework version"),
    "framework_title": _l("Framework title"),
    "isced": _l("ISCED level"),
    "grade": _l("grade"),
    "type": _l("type"),
    "levels": _l("levels"),
    "subject": _l("subject"),
}
SOURCES = {
    "start": _l("State before the first change made here"),
    "outside": _l("Changed outside these pages (content load or bundle import)"),
    "edit": _l("Edited in the browser"),
    "import": _l("Imported from a file"),
}
QUICK_EDITS = ("add-level", "rename-level", "add-competency", "remove-competency")


def _country(code: str) -> Country:
    """Return the country if the signed-in editor works for it; others learn nothing (404)."""
    country = db.session.get(Country, code)
    if country is None or not current_user().can_act_for(code):
        abort(404)
    return country


def describe(change: Change | dict) -> str:
    """Return one change to a curriculum as a sentence in the reader's language."""
    if isinstance(change, dict):
        change = Change(**change)

    def value(text: str) -> str:
        return text or "—"

    if change.section == "country":
        return _(
            "%(field)s was %(before)s and is now %(after)s",
            field=FIELD_NAMES.get(change.field, change.field),
            before=value(change.before),
            after=value(change.after),
        )
    if change.action == "reordered":
        return _("%(section)s: new order", section=SECTION_TITLES[change.section])
    if change.action == "recoded":
        return _(
            "%(thing)s: new code %(key)s",
            thing=_thing(change.section, change.old_key),
            key=change.key,
        )
    shown = _thing(change.section, change.key)
    if change.action == "added":
        return _("%(thing)s: added", thing=shown)
    if change.action == "removed":
        return _("%(thing)s: removed", thing=shown)
    if change.action == "renamed":
        return _(
            "%(thing)s: the name was “%(before)s” and is now “%(after)s”",
            thing=shown,
            before=change.before,
            after=change.after,
        )
    if change.action == "moved":
        if change.field == "parent":
            top = _("the top level")
            return _(
                "%(thing)s: moved from under %(before)s to under %(after)s",
                thing=shown,
                before=change.before or top,
                after=change.after or top,
            )
        return _(
            "%(thing)s: moved from %(before)s to %(after)s",
            thing=shown,
            before=value(change.before),
            after=value(change.after),
        )
    return _(
        "%(thing)s: %(field)s was %(before)s and is now %(after)s",
        thing=shown,
        field=FIELD_NAMES.get(change.field, change.field),
        before=value(change.before),
        after=value(change.after),
    )


def _thing(section: str, key: str) -> str:
    return str(THING[section]) % {"key": key}


def describe_problem(problem: Problem) -> str:
    """Return a problem found in a file with its line and field, in the reader's language."""
    if problem.line and problem.field:
        return _(
            "Line %(line)s, field %(field)s: %(message)s",
            line=problem.line,
            field=problem.field,
            message=problem.message,
        )
    if problem.line:
        return _("Line %(line)s: %(message)s", line=problem.line, message=problem.message)
    if problem.field:
        return _("Field %(field)s: %(message)s", field=problem.field, message=problem.message)
    return problem.message


@bp.app_context_processor
def curriculum_helpers():
    return {"describe_change": describe, "describe_problem": describe_problem}


def _tree(curriculum: fmt.Curriculum) -> dict:
    """Group the flat lists of a curriculum the way the tree page shows them."""
    children: dict[str | None, list[fmt.Competency]] = {}
    for node in curriculum.competencies:
        children.setdefault(node.parent, []).append(node)
    return {
        "levels_by_cycle": {
            cycle.code: [lv for lv in curriculum.levels if lv.cycle == cycle.code]
            for cycle in curriculum.cycles
        },
        "subjects_by_domain": {
            domain.slug: [s for s in curriculum.subjects if s.domain == domain.slug]
            for domain in curriculum.domains
        },
        "roots": {
            subject.slug: [n for n in children.get(None, []) if n.subject == subject.slug]
            for subject in curriculum.subjects
        },
        "children": children,
    }


@bp.route("/<country>/curriculum")
@role_required("editor")
def curriculum(country: str):
    row = _country(country)
    current = curriculum_of(country)
    return render_template(
        "curriculum/view.html",
        country=row,
        curriculum=current,
        shown=pick,
        **_tree(current),
    )


def _edit_page(
    country: Country,
    text: str,
    result: service.Result | None,
    source: str,
    tried_to_apply: bool = False,
):
    status = 200
    if result is not None and result.status == "invalid":
        status = 400
    elif result is not None and result.status in ("stale", "blocked"):
        status = 409
    return render_template(
        "curriculum/edit.html",
        country=country,
        curriculum=curriculum_of(country.code),
        text=text,
        result=result,
        source=source,
        tried_to_apply=tried_to_apply,
        shown=pick,
    ), status


@bp.route("/<country>/curriculum/edit", methods=["GET", "POST"])
@role_required("editor")
def curriculum_edit(country: str):
    row = _country(country)
    if request.method == "GET":
        return _edit_page(row, service.export_toml(country), None, "edit")
    text = request.form.get("toml", "")
    source = request.form.get("source") if request.form.get("source") == "import" else "edit"
    if request.form.get("action") != "apply":
        return _edit_page(row, text, service.preview_toml(country, text), source)
    result = service.import_toml(
        country,
        text,
        current_user(),
        request.form.get("confirm") == "yes",
        seen=request.form.get("token", ""),
        source=source,
    )
    if result.status == "applied":
        db.session.commit()
        if result.impact:
            sync_index()  # after the commit: the index follows the database
        flash(_("Version %(number)s of the curriculum recorded.", number=result.version), "info")
        if result.impact:
            count = len(result.impact.modules)
            flash(
                ngettext(
                    "%(num)d module was updated as the preview said.",
                    "%(num)d modules were updated as the preview said.",
                    count,
                ),
                "info",
            )
        return redirect(url_for("curriculum.curriculum", country=country))
    if result.status == "unchanged":
        flash(_("Nothing to change: this is already the curriculum."), "info")
        return redirect(url_for("curriculum.curriculum", country=country))
    # Keep what the editor typed (with their comments) rather than the normalised text.
    return _edit_page(row, text, result, source, tried_to_apply=True)


def _texts(prefix: str) -> dict[str, str]:
    return {lang: request.form.get(f"{prefix}_{lang}", "") for lang in LANGUAGES}


def _whole(name: str) -> int:
    value = request.form.get(name, "").strip()
    # Not a number: -1 lets the validator say so in its usual words, next to the field.
    return int(value) if value.isdecimal() else -1  # isdigit() lets "²" through to int()


@bp.route("/<country>/curriculum/quick/<kind>", methods=["POST"])
@role_required("editor")
def curriculum_quick(country: str, kind: str):
    row = _country(country)
    if kind not in QUICK_EDITS:
        abort(404)
    current = curriculum_of(country)
    form = request.form
    if kind == "add-level":
        new = service.add_level(
            current,
            form.get("code", ""),
            form.get("cycle", ""),
            _whole("isced"),
            _whole("grade"),
            _texts("name"),
            after=form.get("after", ""),
        )
    elif kind == "rename-level":
        new = service.rename_level(current, form.get("level", ""), _texts("name"))
    elif kind == "add-competency":
        new = service.add_competency(
            current,
            form.get("code", ""),
            form.get("subject", ""),
            form.get("type", ""),
            _texts("label"),
            parent=form.get("parent", ""),
            levels=form.getlist("levels"),
        )
    else:
        new = service.remove_competency(current, form.get("competency", ""))
    text = dump_curriculum(new)
    return _edit_page(row, text, service.preview_toml(country, text), "edit")


@bp.route("/<country>/curriculum.toml")
@role_required("editor")
def curriculum_export(country: str):
    _country(country)
    return Response(
        service.export_toml(country),
        mimetype="application/toml",
        headers={"Content-Disposition": f'attachment; filename="{country}-curriculum.toml"'},
    )


@bp.route("/<country>/curriculum.case.json")
@role_required("editor")
def curriculum_case(country: str):
    _country(country)
    lang = current_language()
    return Response(
        json.dumps(cf_package(country, lang), ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{country}-curriculum-case-{lang}.json"'
        },
    )


@bp.route("/<country>/curriculum/import", methods=["GET", "POST"])
@role_required("editor")
def curriculum_import(country: str):
    row = _country(country)
    if request.method == "GET":
        return render_template("curriculum/import.html", country=row)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a curriculum.toml file to import."), "error")
        return redirect(url_for("curriculum.curriculum_import", country=country))
    data = upload.read(service.MAX_TOML_BYTES + 1)
    text, problems = service.decode_upload(data)
    if text is None:
        result = service.propose(country, None, problems)
        # Shown with the undecodable bytes replaced, so the lines can be found and retyped.
        shown = data[: service.MAX_TOML_BYTES].decode("utf-8", "replace")
        return _edit_page(row, shown, result, "import")
    return _edit_page(row, text, service.preview_toml(country, text), "import")


@bp.route("/<country>/curriculum/history")
@role_required("editor")
def curriculum_history(country: str):
    row = _country(country)
    versions = service.history(country)
    current = curriculum_of(country).fingerprint()
    return render_template(
        "curriculum/history.html",
        country=row,
        versions=versions,
        current=current,
        sources=SOURCES,
    )


@bp.route("/<country>/curriculum/history/<int:number>.toml")
@role_required("editor")
def curriculum_version(country: str, number: int):
    _country(country)
    text = service.version_toml(country, number)
    if text is None:
        abort(404)
    return Response(
        text,
        mimetype="application/toml",
        headers={
            "Content-Disposition": f'attachment; filename="{country}-curriculum-v{number}.toml"'
        },
    )
