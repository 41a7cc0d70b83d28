"""Data-map browser: controllers, systems, taxonomy, versions, and the import form."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import BadRequest

from app.auth.permissions import Permission, declare
from app.auth.security import client_ip
from app.core import time
from app.core.errors import InputError, NotFound
from app.core.pagination import PageRequest
from app.datamap import service
from app.datamap.taxonomy import taxonomy
from app.db import get_session
from app.flows import datamap as datamap_flows

bp = Blueprint("datamap", __name__, url_prefix="/datamap")


class ImportForm(FlaskForm):
    """Upload a data-map file (and, for a Fides manifest, its assignments CSV)."""

    file = FileField("Data-map file (.yaml, .json or .csv)", validators=[FileRequired()])
    assignments = FileField("Assignments CSV (only with a Fides manifest)")


def _page() -> PageRequest:
    try:
        return PageRequest.parse(request.args)
    except InputError as exc:
        raise BadRequest(str(exc)) from None


@bp.get("/controllers")
@declare(Permission.datamap_read)
def controllers():
    """Controllers with search and filters."""
    db = get_session()
    filters = service.ControllerFilter(**{k: request.args.get(k, "").strip() for k in
                                          ("q", "country", "sector", "jurisdiction")})
    page = service.list_controllers(session=db, filters=filters, page=_page())
    jurisdictions = service.jurisdictions_of(session=db, controller_ids=[c.id for c in page.items])
    return render_template("datamap/controllers.html", page=page, filters=filters, jurisdictions=jurisdictions,
                           facets=service.facet_values(session=db), version=service.current_version(session=db))


@bp.get("/controllers/<key>")
@declare(Permission.datamap_read)
def controller(key: str):
    """One controller: contacts, contract, channels and the systems holding its data."""
    db = get_session()
    try:
        row = service.get_controller(session=db, key=key)
    except NotFound:
        abort(404)
    return render_template("datamap/controller.html", controller=row,
                           jurisdictions=service.jurisdictions_of(session=db, controller_ids=[row.id])[row.id],
                           contacts=service.contacts_of(session=db, controller=row),
                           holdings=service.holdings(session=db, controller=row).items)


@bp.get("/systems")
@declare(Permission.datamap_read)
def systems():
    """Systems and how many customers' data each holds."""
    q = request.args.get("q", "").strip()
    return render_template("datamap/systems.html", q=q,
                           page=service.list_systems(session=get_session(), page=_page(), q=q))


@bp.get("/systems/<key>")
@declare(Permission.datamap_read)
def system(key: str):
    """One system and the customers whose data it holds."""
    db = get_session()
    try:
        row = service.get_system(session=db, key=key)
    except NotFound:
        abort(404)
    return render_template("datamap/system.html", system=row,
                           holdings=service.holdings(session=db, system=row, page=_page()))


@bp.get("/taxonomy")
@declare(Permission.datamap_read)
def taxonomy_page():
    """The data and subject categories with their GDPR flags and ENISA types."""
    return render_template("datamap/taxonomy.html", taxonomy=taxonomy())


@bp.get("/versions")
@declare(Permission.datamap_read)
def versions():
    """Data-map versions, newest first."""
    return render_template("datamap/versions.html", page=service.list_versions(session=get_session(), page=_page()))


@bp.route("/import", methods=["GET", "POST"])
@declare(Permission.datamap_write)
def import_page():
    """Upload a data map; the same code as `breachline datamap import`."""
    form = ImportForm()
    problems = []
    if form.validate_on_submit():
        upload = form.file.data
        extra = None
        if form.assignments.data:
            extra = (form.assignments.data.filename or "assignments.csv", form.assignments.data.read())
        db = get_session()
        try:
            result = datamap_flows.import_upload(session=db, filename=upload.filename or "upload.yaml",
                                                 content=upload.read(), assignments=extra, actor=current_user.email,
                                                 now=time.now())
            db.commit()
        except InputError as exc:
            db.rollback()
            problems = [str(p) for p in exc.problems]
        else:
            if result.changed:
                flash(f"Imported {result.controllers} controllers, {result.systems} systems and {result.records} "
                      f"processing records as data-map version {result.version.id} ({_changes(result)}).",
                      "success")
            else:
                flash("The data map already had this content; no new version.", "info")
            return redirect(url_for("datamap.versions"))
    status = 422 if problems else 200
    return render_template("datamap/import.html", form=form, problems=problems), status


@bp.get("/export.<fmt>")
@declare(Permission.datamap_read)
def export(fmt: str):
    """Download the data map as YAML, CSV or JSON (webhook secrets are never included here)."""
    if fmt not in datamap_flows.EXPORT_FORMATS:
        abort(404)
    db = get_session()
    rendered = datamap_flows.export(session=db, fmt=fmt, actor=current_user.email, target=request.path,
                                    ip=client_ip(), now=time.now())
    db.commit()
    return Response(rendered.chunks, mimetype=rendered.mimetype,
                    headers={"Content-Disposition": f"attachment; filename={rendered.filename}"})


def _changes(result) -> str:
    """'2 controllers added, 1 changed; ...' for the flash message."""
    parts = []
    for section, counts in result.changes.items():
        said = [f"{counts[k]} {k}" for k in ("added", "changed", "removed") if counts.get(k)]
        if said:
            parts.append(f"{section}: {', '.join(said)}")
    return "; ".join(parts) or "no entry changed"
