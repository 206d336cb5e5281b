"""Connections set up from the web (issue 15, part 3): list, create, edit, enable or disable,
"Test connection" and a preview of the first records mapped, for data managers and
administrators only (404 for everyone else, like the sync pages).

Every write goes through ``integration.services`` (``connection_create``/``connection_update``),
which validate the whole connection and log who changed what. Secrets are write-only: a form
never renders a stored secret, only whether one is set (or the name of the environment variable
it is read from); an empty secret field keeps the stored value.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from comptoir.core.errors import DomainError, ValidationFailed
from comptoir.integration.engine.core import Connector, Parameter, connectors
from comptoir.integration.mappings import builtin_mapping, builtin_mappings
from comptoir.integration.models import Connection, SyncRun
from comptoir.web.views.feeds import _require_data_manager, connection_health
from comptoir.web.views.quality_issues import field_label

_l = gettext_lazy

# The connectors' own labels and help are plain English in the engine (no Django there):
# their words for people, translated, live here. Unknown connectors keep the engine's text.
CONNECTOR_TEXT: dict[str, tuple[Promise, Promise]] = {
    "tryton": (_l("Tryton ERP"),
               _l("Tryton read over its JSON-RPC API: parties and their contacts, products "
                  "and prices, sales and invoices, only what changed since the last run. "
                  "Can also create customers in Tryton.")),
    "tryton-sql": (_l("Tryton ERP (read from its database)"),
                   _l("Tryton read straight from its database with ready-made queries: the "
                      "same records as the Tryton connector, several times faster on large "
                      "bases.")),
    "files": (_l("Files (CSV, XLSX, JSON)"),
              _l("CSV, XLSX, JSON or vCard files dropped in a folder on the server (each is "
                 "archived once loaded), or one file read again whenever it changes.")),
    "sql": (_l("ERP database (SQL)"),
            _l("Any ERP's database, read with one query per stream, by a user that can only "
               "read.")),
    "push": (_l("Push API"),
             _l("A plugin inside the ERP sends its changes to Comptoir, signed with a key.")),
}

PARAMETER_TEXT: dict[tuple[str, str], tuple[Promise, Promise | str]] = {
    ("files", "path"): (_l("File or inbox folder"),
                        _l("A path on the server running Comptoir. A folder: every matching "
                           "file is read, oldest first, then archived. A file: read again "
                           "whenever its content changes.")),
    ("files", "pattern"): (_l("File name patterns"),
                           _l("Comma-separated patterns of the files to read in a folder.")),
    ("files", "stream"): (_l("Stream name"),
                          _l("The stream the mapping names for these files (rows when empty).")),
    ("files", "key_field"): (_l("Key column"),
                             _l("The column holding each row's id in the other system; without "
                                "it rows are keyed by line number.")),
    ("files", "encoding"): (_l("Encoding"),
                            _l("Detected when empty (UTF-8, Windows-1252 or Latin-1).")),
    ("files", "delimiter"): (_l("Delimiter"), _l("Detected when empty (; , tab or |).")),
    ("files", "sheet"): (_l("Sheet"), _l("XLSX: the first sheet when empty.")),
    ("files", "archive"): (_l("Archive folder"),
                           _l("Where read files go; by default a folder named archive in the "
                              "inbox. A single file stays in place unless this is set.")),
    ("files", "complete"): (_l("Complete extracts"),
                            _l("Each file holds every row: rows missing from the last one are "
                               "deletions. Needs a key column.")),
    ("tryton", "url"): (_l("Server URL"), _l("For example http://erp.example.com:8000")),
    ("tryton", "database"): (_l("Database"), _l("The name of the Tryton database.")),
    ("tryton", "username"): (_l("User"),
                             _l("A dedicated Tryton user: read access, and the right to create "
                                "parties when Comptoir sends new customers.")),
    ("tryton", "password"): (_l("Password"), ""),
    ("tryton", "timeout"): (_l("Timeout (seconds)"),
                            _l("How long to wait for each answer of Tryton.")),
    ("sql", "url"): (_l("Database URL"),
                     _l("sqlite:///absolute/path.db (opened read-only) or "
                        "postgresql://user:password@host:port/database, for a user that can "
                        "only read.")),
    ("sql", "streams"): (_l("Streams (JSON)"),
                         _l('One query per stream, e.g. {"customers": {"query": "SELECT …", '
                            '"key": "id", "cursor": "changed_at"}}; see the README for lines, '
                            "addresses and deletions.")),
    ("sql", "page_size"): (_l("Rows per query"), ""),
    ("tryton-sql", "url"): (_l("Database URL"),
                            _l("Tryton's database: postgresql://user:password@host:port/db or "
                               "sqlite:///absolute/path.sqlite (opened read-only), for a user "
                               "that can only read.")),
    ("tryton-sql", "page_size"): (_l("Rows per query"), ""),
    ("push", "max_age_seconds"): (_l("Accepted clock skew (seconds)"),
                                  _l("Requests signed longer ago than this are refused.")),
}

# The ready-made mapping a new connection of these connectors starts with.
DEFAULT_MAPPING = {"tryton": "tryton", "tryton-sql": "tryton"}

SECRET_HELP = _l("Write-only: never shown again once saved. env:NAME reads it from the "
                 "environment variable NAME of the server instead of storing it.")


def _connector_classes() -> dict[str, type[Connector]]:
    from comptoir.integration.services import load_connectors

    load_connectors()
    return dict(sorted(connectors().items()))


def connector_text(name: str, cls: type[Connector] | None = None) -> tuple[str, str]:
    """(label, description) of a connector, in the user's language."""
    if name in CONNECTOR_TEXT:
        label, description = CONNECTOR_TEXT[name]
        return str(label), str(description)
    return (cls.label if cls else name), ((cls.__doc__ or "").strip().split("\n")[0]
                                          if cls else "")


def is_secret(cls: type[Connector], name: str, spec: Parameter) -> bool:
    return name in cls.sensitive_parameters or spec.kind == "secret"


def _param_text(connector: str, name: str, spec: Parameter) -> tuple[str, str]:
    label, help_text = PARAMETER_TEXT.get((connector, name), (spec.label, spec.help))
    return str(label), str(help_text)


def secret_state(value: Any) -> str:
    """How a stored secret is shown: never its value."""
    if value in (None, ""):
        return _("not set")
    if isinstance(value, str) and value.startswith("env:"):
        return _("read from the environment variable %(name)s") % {"name": value[4:]}
    return _("•••• set")


def mapping_choices() -> list[tuple[str, str]]:
    from comptoir.integration.management.commands.connection import mapping_summary

    out = [("", _("My own mapping (paste it below)"))]
    for name in builtin_mappings():
        summary = mapping_summary(name)
        out.append((name, f"{name} — {summary[:90]}{'…' if len(summary) > 90 else ''}"))
    return out


def builtin_name_of(text: str) -> str:
    """The ready-made mapping a connection's mapping is exactly, or ""."""
    for name in builtin_mappings():
        if builtin_mapping(name).strip() == (text or "").strip():
            return name
    return ""


def owned_fields_text(owned: dict[str, list[str]]) -> str:
    return "\n".join(f"{obj}: {', '.join(names)}" for obj, names in (owned or {}).items())


def parse_owned_fields(text: str) -> tuple[dict[str, list[str]], list[str]]:
    """``account: legal_name, siren`` per line → ({object: [fields]}, problems)."""
    from comptoir.integration.loader import target_fields

    targets = target_fields()
    out: dict[str, list[str]] = {}
    problems: list[str] = []
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        obj, sep, rest = line.partition(":")
        obj = obj.strip()
        if not sep or obj not in targets or "." in obj:
            problems.append(_("Line %(line)s: start with an object and a colon, e.g. "
                              "“account: legal_name, siren”.") % {"line": n})
            continue
        names = [f.strip() for f in rest.split(",") if f.strip()]
        unknown = [f for f in names if f not in targets[obj]]
        if unknown:
            problems.append(_("Line %(line)s: %(object)s has no field %(fields)s.")
                            % {"line": n, "object": obj, "fields": ", ".join(unknown)})
            continue
        out[obj] = names
    return out, problems


_PATH_RE = re.compile(r"^(streams(?:\.[^\s.:]+)*)")


def mapping_problem_line(text: str, problem: str) -> int | None:
    """The line of the mapping a validation problem points at (``streams.parties.fields:
    unknown field 'sirne'`` → the line of ``sirne`` in ``[streams.parties.fields]``)."""
    syntax = re.search(r"at line (\d+)", problem)
    if syntax:
        return int(syntax.group(1))
    found = _PATH_RE.match(problem)
    if not found:
        return None
    parts = found.group(1).split(".")
    quoted = re.search(r"unknown (?:field|option) '([^']+)'", problem)
    if quoted:
        parts.append(quoted.group(1))
    lines = text.splitlines()
    # the longest table header that is a prefix of the path, then a key of the rest in it
    for cut in range(len(parts), 0, -1):
        header = "[" + ".".join(parts[:cut]) + "]"
        for i, line in enumerate(lines):
            if line.strip().replace(" ", "") != header:
                continue
            rest = parts[cut:]
            if not rest:
                return i + 1
            key = rest[0]
            for j in range(i + 1, len(lines)):
                stripped = lines[j].strip()
                if stripped.startswith("["):
                    break
                if re.match(rf'^"?{re.escape(key)}"?\s*=', stripped):
                    return j + 1
            return i + 1
    return None


def mapping_errors(text: str, problems: list[str]) -> list[str]:
    out = []
    for problem in problems:
        line = mapping_problem_line(text, problem)
        out.append(_("Line %(line)s: %(problem)s") % {"line": line, "problem": problem}
                   if line else problem)
    return out


class ConnectionForm(forms.Form):
    """Name, label, direction, the connector's parameters (secrets write-only), mapping,
    schedule, ERP-owned fields; built for one connector."""

    name = forms.SlugField(label=_l("Name"), max_length=60,
                           help_text=_l("Short, unique, lower case: how the command line and "
                                        "the API name it (e.g. erp)."))
    label = forms.CharField(label=_l("Label"), max_length=120, required=False,
                            help_text=_l("What the Sync page shows (e.g. Tryton — "
                                         "production)."))
    direction = forms.ChoiceField(label=_l("Direction"), choices=Connection.Direction.choices)

    def __init__(self, *args: Any, connector: str, cls: type[Connector],
                 connection: Connection | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connector, self.cls, self.connection = connector, cls, connection
        if connection is not None:
            del self.fields["name"]  # fixed once created: runs and references hang on it
        self.param_fields: list[str] = []
        self.secret_fields: list[str] = []
        stored = connection.secrets if connection else {}
        for name, spec in cls.parameters.items():
            label, help_text = _param_text(connector, name, spec)
            if is_secret(cls, name, spec):
                key = f"s_{name}"
                is_set = bool(stored.get(name))
                self.fields[key] = forms.CharField(
                    label=label, required=spec.required and not is_set, strip=False,
                    widget=forms.PasswordInput(render_value=False,
                                               attrs={"autocomplete": "new-password"}),
                    help_text=f"{help_text} {SECRET_HELP}".strip())
                self.fields[key].secret_state = secret_state(stored.get(name))  # type: ignore[attr-defined]
                self.fields[key].is_set = is_set  # type: ignore[attr-defined]
                self.secret_fields.append(key)
                continue
            key = f"p_{name}"
            field: forms.Field
            if spec.kind == "bool":
                field = forms.BooleanField(label=label, required=False, help_text=help_text)
            elif spec.kind == "int":
                field = forms.IntegerField(label=label, required=spec.required, min_value=1,
                                           help_text=help_text)
                if spec.default not in (None, ""):
                    field.widget.attrs["placeholder"] = str(spec.default)
            else:
                widget = (forms.Textarea(attrs={"rows": 8, "class": "mono", "spellcheck":
                                                "false"})
                          if name == "streams" else forms.TextInput())
                field = forms.CharField(label=label, required=spec.required, widget=widget,
                                        help_text=help_text)
                if spec.default not in (None, "") and name != "streams":
                    field.widget.attrs["placeholder"] = str(spec.default)
            self.fields[key] = field
            self.param_fields.append(key)
        if connector == "push":
            is_set = bool(connection and connection.push_secret)
            self.fields["push_secret"] = forms.CharField(
                label=_l("Signing key"), required=not is_set, max_length=128, strip=False,
                widget=forms.PasswordInput(render_value=False,
                                           attrs={"autocomplete": "new-password"}),
                help_text=_("The HMAC key the ERP's plugin signs its requests with. %(more)s")
                % {"more": SECRET_HELP})
            self.fields["push_secret"].secret_state = (  # type: ignore[attr-defined]
                _("•••• set") if is_set else _("not set"))
            self.fields["push_secret"].is_set = is_set  # type: ignore[attr-defined]
            self.secret_fields.append("push_secret")
        self.fields["mapping_name"] = forms.ChoiceField(
            label=_l("Mapping"), choices=mapping_choices(), required=False,
            help_text=_l("Which source field becomes which CRM field: a ready-made mapping, "
                         "or your own (TOML)."))
        self.fields["mapping"] = forms.CharField(
            label=_l("Your mapping (TOML)"), required=False, strip=False,
            widget=forms.Textarea(attrs={"rows": 14, "class": "mono", "spellcheck": "false"}),
            help_text=_l("Used when “My own mapping” is chosen above. Checked when you save; "
                         "a problem is shown with its line."))
        self.fields["schedule_minutes"] = forms.IntegerField(
            label=_l("Run every (minutes)"), required=False, min_value=1,
            help_text=_l("Empty: only when someone runs it (Run now, the command line or the "
                         "API)."))
        self.fields["batch_size"] = forms.IntegerField(
            label=_l("Batch size"), min_value=1, max_value=10_000, initial=5000,
            help_text=_l("Records written and committed together."))
        self.fields["owned_fields"] = forms.CharField(
            label=_l("Fields owned by the other system"), required=False,
            widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "spellcheck": "false"}),
            help_text=_l("One line per object, e.g. “account: legal_name, siren”: read-only "
                         "in Comptoir and overwritten by each sync."))
        self.fields["enabled"] = forms.BooleanField(label=_l("Enabled"), required=False,
                                                    initial=True)
        if connection is not None:
            self.initial.update({
                "label": connection.label, "direction": connection.direction,
                "schedule_minutes": connection.schedule_minutes,
                "batch_size": connection.batch_size, "enabled": connection.enabled,
                "owned_fields": owned_fields_text(connection.owned_fields)})
            for name in cls.parameters:
                if f"p_{name}" in self.fields and name in connection.parameters:
                    self.initial[f"p_{name}"] = connection.parameters[name]
            builtin = builtin_name_of(connection.mapping)
            self.initial["mapping_name"] = builtin
            if not builtin:
                self.initial["mapping"] = connection.mapping
        else:
            self.initial.setdefault("mapping_name", DEFAULT_MAPPING.get(connector, ""))

    def clean_owned_fields(self) -> dict[str, list[str]]:
        owned, problems = parse_owned_fields(self.cleaned_data.get("owned_fields") or "")
        if problems:
            raise forms.ValidationError(problems)
        return owned

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("mapping_name") and not (data.get("mapping") or "").strip():
            self.add_error("mapping", _("Choose a ready-made mapping or paste your own."))
        return data

    def service_data(self) -> dict[str, Any]:
        """What ``connection_create``/``connection_update`` take."""
        d = self.cleaned_data
        parameters: dict[str, Any] = {}
        for key in self.param_fields:
            value = d.get(key)
            if isinstance(value, bool) or value not in (None, ""):
                parameters[key[2:]] = value
        secrets = {key[2:]: d.get(key) or "" for key in self.secret_fields
                   if key.startswith("s_")}
        mapping = (builtin_mapping(d["mapping_name"]) if d.get("mapping_name")
                   else d.get("mapping") or "")
        out: dict[str, Any] = {
            "label": d.get("label") or "", "direction": d["direction"],
            "parameters": parameters, "secrets": secrets, "mapping": mapping,
            "owned_fields": d.get("owned_fields") or {},
            "schedule_minutes": d.get("schedule_minutes") or None,
            "batch_size": d.get("batch_size") or 5000, "enabled": bool(d.get("enabled")),
            "connector": self.connector, "push_secret": d.get("push_secret") or ""}
        if "name" in d:
            out["name"] = d["name"]
        return out

    def add_service_errors(self, exc: ValidationFailed, mapping_text: str) -> None:
        """The service's refusal, each problem next to the field it is about."""
        placed = False
        for key, problems in exc.fields.items():
            if key == "name" and "name" in self.fields:
                self.add_error("name", problems)
            elif key == "mapping":
                target = "mapping" if not self.cleaned_data.get("mapping_name") \
                    else "mapping_name"
                self.add_error(target, mapping_errors(mapping_text, problems))
            else:
                for problem in problems:
                    param = re.search(r"parameter '([^']+)'", problem)
                    name = param.group(1) if param else ""
                    where = next((k for k in (f"p_{name}", f"s_{name}") if k in self.fields),
                                 None)
                    self.add_error(where, problem)
            placed = True
        if not placed:
            self.add_error(None, exc.message)

    def grouped(self) -> dict[str, list[forms.BoundField]]:
        """The fields in the form's sections, for the template."""
        general = ["name", "label", "direction"]
        schedule = ["schedule_minutes", "batch_size", "enabled"]
        return {
            "general": [self[k] for k in general if k in self.fields],
            "parameters": [self[k] for k in self.param_fields],
            "secrets": [self[k] for k in self.secret_fields],
            "mapping": [self["mapping_name"], self["mapping"]],
            "schedule": [self[k] for k in schedule],
            "owned": [self["owned_fields"]],
        }


def _connector_or_404(name: str) -> type[Connector]:
    classes = _connector_classes()
    if name not in classes:
        raise Http404
    return classes[name]


def _save(request: HttpRequest, form: ConnectionForm, connection: Connection | None
          ) -> Connection | None:
    from comptoir.integration.services import connection_create, connection_update

    data = form.service_data()
    try:
        if connection is None:
            return connection_create(user=request.user, data=data)
        return connection_update(user=request.user, connection=connection, data=data)
    except ValidationFailed as exc:
        form.add_service_errors(exc, data["mapping"])
    except DomainError as exc:
        form.add_error(None, exc.message)
    return None


@login_required
def connections_list(request: HttpRequest) -> HttpResponse:
    _require_data_manager(request)
    return render(request, "web/connections/list.html", {
        "title": _("Connections"), "health": connection_health(limit=500)})


@login_required
def connection_new(request: HttpRequest) -> HttpResponse:
    """Choose the connector, then fill in its form."""
    _require_data_manager(request)
    name = request.POST.get("connector") or request.GET.get("connector") or ""
    if not name:
        choices = [{"name": n, "label": connector_text(n, c)[0],
                    "description": connector_text(n, c)[1]}
                   for n, c in _connector_classes().items()]
        return render(request, "web/connections/choose.html", {
            "title": _("New connection"), "choices": choices})
    cls = _connector_or_404(name)
    form = ConnectionForm(request.POST or None, connector=name, cls=cls)
    if request.method == "POST" and form.is_valid():
        connection = _save(request, form, None)
        if connection is not None:
            messages.success(request, _("Connection %(name)s created. Test it, then look at "
                                        "the preview before running it.")
                             % {"name": connection})
            return HttpResponseRedirect(reverse("web:connection_detail",
                                                args=[connection.pk]))
    return render(request, "web/connections/form.html", {
        "title": _("New connection: %(connector)s") % {"connector": connector_text(name,
                                                                                   cls)[0]},
        "form": form, "connector": name, "connection": None,
        "connector_label": connector_text(name, cls)[0]})


@login_required
def connection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_data_manager(request)
    connection = get_object_or_404(Connection, pk=pk)
    cls = _connector_or_404(connection.connector)
    form = ConnectionForm(request.POST or None, connector=connection.connector, cls=cls,
                          connection=connection)
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, connection)
        if saved is not None:
            messages.success(request, _("Connection %(name)s saved.") % {"name": saved})
            return HttpResponseRedirect(reverse("web:connection_detail", args=[saved.pk]))
    return render(request, "web/connections/form.html", {
        "title": _("Edit %(name)s") % {"name": connection}, "form": form,
        "connector": connection.connector, "connection": connection,
        "connector_label": connector_text(connection.connector, cls)[0]})


def _detail_context(connection: Connection) -> dict[str, Any]:
    classes = _connector_classes()
    cls = classes.get(connection.connector)
    parameters = []
    secrets = []
    if cls is not None:
        for name, spec in cls.parameters.items():
            label, _help = _param_text(connection.connector, name, spec)
            if is_secret(cls, name, spec):
                secrets.append({"label": label,
                                "state": secret_state(connection.secrets.get(name))})
            else:
                value = connection.parameters.get(name)
                parameters.append({"label": label, "value": value, "default": spec.default,
                                   "long": name == "streams"})
    if connection.connector == "push":
        secrets.append({"label": _("Signing key"),
                        "state": _("•••• set") if connection.push_secret else _("not set")})
    runs = list(connection.runs.order_by("-id")[:5])
    return {"connection": connection, "parameters": parameters, "secrets": secrets,
            "connector_label": connector_text(connection.connector, cls)[0],
            "mapping_name": builtin_name_of(connection.mapping), "runs": runs,
            "alive": any(r.status in (SyncRun.Status.PENDING, SyncRun.Status.RUNNING)
                         for r in runs),
            "owned": owned_fields_text(connection.owned_fields)}


@login_required
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_data_manager(request)
    connection = get_object_or_404(Connection, pk=pk)
    return render(request, "web/connections/detail.html", {
        "title": str(connection), **_detail_context(connection)})


@login_required
@require_POST
def connection_test_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Try to connect and read one record; the answer replaces the result box (htmx) or is
    shown on the connection's page."""
    _require_data_manager(request)
    from comptoir.integration.services import connection_test

    connection = get_object_or_404(Connection, pk=pk)
    check = connection_test(connection)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/connections/_check.html", {"check": check})
    return render(request, "web/connections/detail.html", {
        "title": str(connection), **_detail_context(connection), "check": check})


def _preview_rows(streams: list[Any]) -> list[dict[str, Any]]:
    out = []
    for stream in streams:
        records = []
        for record in stream.records:
            fields = [{"name": name, "label": field_label(stream.target, name), "value": value,
                       "sources": ", ".join(sources),
                       "raw": " | ".join(str(record.source.get(s, "")) for s in sources
                                         if record.source.get(s) not in (None, "")),
                       "error": record.errors.get(name, "")}
                      for name, value, sources in record.fields
                      if not isinstance(value, list)]
            lists = [(name, len(value)) for name, value, _sources in record.fields
                     if isinstance(value, list)]
            other = {k: v for k, v in record.errors.items()
                     if k not in {f["name"] for f in fields}}
            records.append({"record": record, "fields": fields, "lists": lists,
                            "other_errors": other})
        out.append({"stream": stream, "records": records})
    return out


@login_required
def connection_preview_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The first five records of each mapped stream beside the CRM fields they become."""
    _require_data_manager(request)
    from comptoir.integration.services import connection_preview

    connection = get_object_or_404(Connection, pk=pk)
    streams, failure = connection_preview(connection)
    context = {"streams": _preview_rows(streams), "failure": failure,
               "connection": connection}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/connections/_preview.html", context)
    return render(request, "web/connections/preview.html", {
        "title": _("Preview of %(name)s") % {"name": connection}, **context})


@login_required
@require_POST
def connection_preview_draft(request: HttpRequest, pk: int) -> HttpResponse:
    """The preview with the mapping being edited, before it is saved: the first records of
    the source beside the CRM fields this text would make of them (nothing is written, the
    connection keeps its saved mapping)."""
    _require_data_manager(request)
    from copy import copy

    from comptoir.integration.engine.errors import ConfigError
    from comptoir.integration.services import connection_preview

    connection = get_object_or_404(Connection, pk=pk)
    name = request.POST.get("mapping_name", "")
    draft = copy(connection)
    try:
        draft.mapping = (builtin_mapping(name) if name
                         else request.POST.get("mapping", "")[:200_000])
    except ConfigError as exc:
        return HttpResponse(str(exc), status=400)
    streams, failure = connection_preview(draft)
    if failure is not None and failure.problem == "mapping":  # each problem with its line
        failure.notes = mapping_errors(draft.mapping, list(failure.notes))
    return render(request, "web/connections/_preview.html", {
        "streams": _preview_rows(streams), "failure": failure, "connection": connection,
        "draft": True})


@login_required
@require_POST
def connection_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Enable or disable (a disabled connection is neither scheduled nor run)."""
    _require_data_manager(request)
    from comptoir.integration.services import connection_update

    connection = get_object_or_404(Connection, pk=pk)
    enable = request.POST.get("enabled") == "1"
    try:
        connection_update(user=request.user, connection=connection, data={"enabled": enable})
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, (_("Connection %(name)s enabled.") if enable else
                                   _("Connection %(name)s disabled: it will not run until "
                                     "enabled again.")) % {"name": connection})
    return HttpResponseRedirect(reverse("web:connection_detail", args=[connection.pk]))


@login_required
@require_POST
def connection_dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a dry run: everything a run does, checked against the CRM, then rolled back."""
    _require_data_manager(request)
    from comptoir.integration.services import sync_run_start
    from comptoir.integration.tasks import execute_run

    connection = get_object_or_404(Connection, pk=pk)
    try:
        run = sync_run_start(connection, user=request.user, trigger=SyncRun.Trigger.WEB,
                             dry_run=True)
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("web:connection_detail", args=[connection.pk]))
    transaction.on_commit(lambda: execute_run.enqueue(run.pk))
    messages.success(request, _("Dry run %(id)s of %(name)s started: nothing will be "
                                "written.") % {"id": run.pk, "name": connection})
    return HttpResponseRedirect(reverse("web:sync_run", args=[run.pk]))


urlpatterns = [
    path("sync/connections/", connections_list, name="connections"),
    path("sync/connections/new/", connection_new, name="connection_new"),
    path("sync/connections/<int:pk>/", connection_detail, name="connection_detail"),
    path("sync/connections/<int:pk>/edit/", connection_edit, name="connection_edit"),
    path("sync/connections/<int:pk>/test/", connection_test_view, name="connection_test"),
    path("sync/connections/<int:pk>/preview/", connection_preview_view,
         name="connection_preview"),
    path("sync/connections/<int:pk>/preview/draft/", connection_preview_draft,
         name="connection_preview_draft"),
    path("sync/connections/<int:pk>/toggle/", connection_toggle, name="connection_toggle"),
    path("sync/connections/<int:pk>/dry-run/", connection_dry_run, name="connection_dry_run"),
]
