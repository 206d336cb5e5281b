"""The French translation: API messages follow ``Accept-Language``, and the catalogue is complete.

How to refresh the catalogue after adding or changing a marked string (gettext tools needed only
for this, never at run time)::

    cd src/comptoir
    COMPTOIR_DATA_DIR=/tmp/i18n-data comptoir makemessages -l fr --ignore "testing/*"
    # translate every new or fuzzy entry in locale/fr/LC_MESSAGES/django.po
    # (fill msgstr, remove the "#, fuzzy" flag)
    COMPTOIR_DATA_DIR=/tmp/i18n-data comptoir compilemessages
    # commit both django.po and django.mo

The catalogue tests below fail until all three steps are done: a string marked in the code but
missing from the .po, an empty or fuzzy msgstr, or a .mo older than its .po.
"""

from __future__ import annotations

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

import comptoir

PACKAGE_DIR = Path(comptoir.__file__).resolve().parent
PO_PATH = PACKAGE_DIR / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# Kept in step with the translation; an English message never contains these French words.
SIREN_FR = "SIREN non valide (9 chiffres avec une clé de contrôle valide)."
SIREN_EN = "Not a valid SIREN (9 digits with a valid check digit)."
FIELDS_FR = "Certains champs ne sont pas valides."
FIELDS_EN = "Some fields are not valid."
AUTH_FR = "Authentification requise"
AUTH_EN = "Authentication required: send a valid bearer token or sign in."


# --- API responses ----------------------------------------------------------------------------


def _client(**extra: Any) -> Client:
    from comptoir.access.models import User
    from comptoir.api.auth import issue_token

    user = User.objects.create_user("i18n-admin", "i18n-admin@example.com", "x", role="admin")
    _, raw = issue_token(user, "t")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", **extra)


def _post_bad_siren(client: Client) -> dict[str, Any]:
    response = client.post("/api/v1/accounts", {"legal_name": "X", "siren": "123"},
                           content_type="application/json")
    assert response.status_code == 422, response.content
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "validation_error"
    return error


@pytest.mark.django_db
def test_validation_message_is_french_by_default() -> None:
    error = _post_bad_siren(_client())
    assert error["message"] == FIELDS_FR
    assert error["fields"]["siren"] == [SIREN_FR]


@pytest.mark.django_db
def test_validation_message_is_french_when_asked() -> None:
    error = _post_bad_siren(_client(HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9"))
    assert error["fields"]["siren"] == [SIREN_FR]


@pytest.mark.django_db
def test_validation_message_is_english_when_asked() -> None:
    error = _post_bad_siren(_client(HTTP_ACCEPT_LANGUAGE="en"))
    assert error["message"] == FIELDS_EN
    assert error["fields"]["siren"] == [SIREN_EN]


@pytest.mark.django_db
def test_language_does_not_leak_between_requests() -> None:
    client = _client()
    assert _post_bad_siren(client)["fields"]["siren"] == [SIREN_FR]
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert _post_bad_siren(client)["fields"]["siren"] == [SIREN_EN]
    del client.defaults["HTTP_ACCEPT_LANGUAGE"]
    assert _post_bad_siren(client)["fields"]["siren"] == [SIREN_FR]


@pytest.mark.django_db
@pytest.mark.parametrize(("headers", "expected"), [
    ({}, AUTH_FR),
    ({"HTTP_ACCEPT_LANGUAGE": "fr"}, AUTH_FR),
    ({"HTTP_ACCEPT_LANGUAGE": "en"}, AUTH_EN),
])
def test_unauthorized_message_follows_the_language(headers: dict[str, str],
                                                   expected: str) -> None:
    response = Client(**headers).get("/api/v1/accounts",
                                     HTTP_AUTHORIZATION="Bearer cpt_not-a-token")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert error["message"].startswith(expected)


# --- The catalogue ----------------------------------------------------------------------------


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def _unquote(token: str) -> str:
    value = ast.literal_eval(token)  # a .po string is a valid Python string literal
    assert isinstance(value, str)
    return value


def parse_po(path: Path) -> list[Entry]:
    """A small .po reader (stdlib only): flags, context, plurals, continuation lines.

    Obsolete entries (``#~``) are skipped: gettext ignores them too.
    """
    entries: list[Entry] = []
    current: Entry | None = None
    pending_flags: set[str] = set()
    target: tuple[str, int] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            pending_flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, token = match.groups()
            # An entry starts at its msgctxt, or at its msgid when it has no context.
            if keyword == "msgctxt" or (keyword == "msgid" and target != ("msgctxt", 0)):
                if current is not None:
                    entries.append(current)
                current = Entry(flags=pending_flags, line=number)
                pending_flags = set()
            assert current is not None, f"{path}:{number}: {keyword} before any msgid"
            value = _unquote(token)
            if keyword == "msgctxt":
                current.msgctxt, target = value, ("msgctxt", 0)
            elif keyword == "msgid":
                current.msgid, target = value, ("msgid", 0)
            elif keyword == "msgid_plural":
                current.msgid_plural, target = value, ("msgid_plural", 0)
            else:
                slot = int(index) if index is not None else 0
                current.msgstr[slot] = value
                target = ("msgstr", slot)
        elif line.startswith('"'):
            assert current is not None, f"{path}:{number}: string before any msgid"
            assert target is not None, f"{path}:{number}: stray string"
            value = _unquote(line)
            kind, slot = target
            if kind == "msgstr":
                current.msgstr[slot] += value
            else:
                setattr(current, kind, (getattr(current, kind) or "") + value)
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    if current is not None:
        entries.append(current)
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    assert PO_PATH.is_file(), f"{PO_PATH} is missing: run makemessages (see this module's doc)"
    entries = parse_po(PO_PATH)
    assert len(entries) > 100, "the French catalogue looks truncated"
    return entries


def _where(entry: Entry) -> str:
    return f"{PO_PATH.name}:{entry.line} {entry.msgid!r}"


def test_catalogue_header_is_french_and_utf8(catalogue: list[Entry]) -> None:
    header = next(e for e in catalogue if e.msgid == "" and e.msgctxt is None)
    assert "fuzzy" not in header.flags, "remove the '#, fuzzy' flag from the header"
    assert "Language: fr\n" in header.msgstr[0]
    assert "charset=UTF-8" in header.msgstr[0]


def test_every_message_is_translated(catalogue: list[Entry]) -> None:
    messages = [e for e in catalogue if e.msgid]
    fuzzy = [_where(e) for e in messages if "fuzzy" in e.flags]
    empty = [_where(e) for e in messages
             if not e.msgstr or any(not s.strip() for s in e.msgstr.values())]
    assert not fuzzy, "fuzzy entries (check the translation, remove the flag):\n" + "\n".join(fuzzy)
    assert not empty, "untranslated entries:\n" + "\n".join(empty)


def test_placeholders_are_kept(catalogue: list[Entry]) -> None:
    placeholder = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{(\w*)\}")
    wrong = []
    for entry in catalogue:
        if not entry.msgid:
            continue
        expected = sorted(m.group(0) for m in placeholder.finditer(entry.msgid))
        if entry.msgid_plural is None:
            for text in entry.msgstr.values():
                if sorted(m.group(0) for m in placeholder.finditer(text)) != expected:
                    wrong.append(f"{_where(entry)} -> {text!r}")
            continue
        # A plural form may leave out the number ("le dernier jour" for one day), never add
        # a name the source does not give, and the "many" form keeps every one of them.
        many = sorted(m.group(0) for m in placeholder.finditer(entry.msgid_plural))
        known = set(expected) | set(many)
        forms = [entry.msgstr[k] for k in sorted(entry.msgstr)]
        for text in forms:
            if not {m.group(0) for m in placeholder.finditer(text)} <= known:
                wrong.append(f"{_where(entry)} -> {text!r}")
        if forms and sorted(m.group(0) for m in placeholder.finditer(forms[-1])) != many:
            wrong.append(f"{_where(entry)} -> {forms[-1]!r}")
    assert not wrong, "placeholders differ from the source:\n" + "\n".join(wrong)


def _marked_strings() -> dict[str, str]:
    """Every literal passed to ``_`` / ``gettext*`` in the package (as makemessages sees it)."""
    names = {"_", "_l", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext",
             "ngettext_lazy", "gettext_noop"}
    found: dict[str, str] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if relative.parts[0] == "testing":  # excluded by --ignore "testing/*"
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else "")
            if name not in names:
                continue
            first = node.args[1] if name.startswith("pgettext") and len(node.args) > 1 \
                else node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, f"{relative}:{node.lineno}")
    return found


def test_every_marked_string_is_in_the_catalogue(catalogue: list[Entry]) -> None:
    known = {e.msgid for e in catalogue}
    missing = [f"{where} {msgid!r}" for msgid, where in _marked_strings().items()
               if msgid not in known]
    assert not missing, ("strings marked for translation but not in the .po "
                         "(re-run makemessages, see this module's doc):\n" + "\n".join(missing))


def test_compiled_catalogue_matches_the_po(catalogue: list[Entry]) -> None:
    assert MO_PATH.is_file(), f"{MO_PATH} is missing: run compilemessages"
    with MO_PATH.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in catalogue:
        if not entry.msgid or entry.msgid_plural is not None:
            continue
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if compiled._catalog.get(key) != entry.msgstr.get(0):  # type: ignore[attr-defined]
            stale.append(_where(entry))
    assert not stale, "django.mo is out of date; run compilemessages:\n" + "\n".join(stale)
