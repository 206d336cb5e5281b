"""Forms of the settings pages: they check shapes; the services check meaning.

Each form's ``values()`` gives the keyword data a service takes, and :func:`apply_errors` puts a
service's ``ValidationFailed``/``Conflict`` messages back next to the right fields.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from comptoir.access.models import Role, Team, TerritoryRule, User
from comptoir.core.company import EDITABLE, format_iban, format_siren, format_siret
from comptoir.core.config_services import CUSTOMIZABLE, OPTION_MAX_LENGTH
from comptoir.core.errors import DomainError
from comptoir.core.formatting import format_number
from comptoir.core.models import CompanyProfile, CustomField, ObjectType
from comptoir.crm.models import LostReason, Stage
from comptoir.web.forms import LocalDecimalField

LANGUAGES = [("fr", "Français"), ("en", "English")]

# service field name -> form field name
FIELD_ALIASES = {"manager_id": "manager", "leader_id": "leader", "default_owner_id":
                 "default_owner", "team_ids": "teams", "member_ids": "members"}


def apply_errors(form: forms.Form, exc: DomainError) -> None:
    """Show a domain error on the form: per field when it names one, else above the form."""
    placed = False
    for key, messages in exc.fields.items():
        name = FIELD_ALIASES.get(key, key)
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
                placed = True
            else:
                form.add_error(None, message)
                placed = True
    if not placed or (exc.message and not exc.fields):
        form.add_error(None, exc.message)


def users_for_choice(*keep: Any) -> QuerySet[User]:
    """Active users, plus the inactive ones already chosen (so a form does not drop them)."""
    ids = [getattr(u, "pk", u) for u in keep if u]
    return User.objects.filter(Q(is_active=True) | Q(pk__in=ids)).order_by(
        "first_name", "last_name", "username")


class UserLabelMixin:
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.username})" if name else obj.username


class UserChoiceField(UserLabelMixin, forms.ModelChoiceField):  # type: ignore[misc]
    pass


class UsersChoiceField(UserLabelMixin, forms.ModelMultipleChoiceField):  # type: ignore[misc]
    pass


class UserForm(forms.Form):
    PASSWORD_LINK = "link"
    PASSWORD_SET = "set"

    username = forms.CharField(label=_("Username"), max_length=150,
                               help_text=_("Used to sign in. Letters, digits and @ . + - _"))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.REP,
                             help_text=_("What they see and may change: see Roles."))
    manager = UserChoiceField(label=_("Manager"), queryset=User.objects.none(), required=False,
                              empty_label=_("No manager"),
                              help_text=_("Managers see their reports' records, at any depth."))
    teams = forms.ModelMultipleChoiceField(
        label=_("Teams"), queryset=Team.objects.all(), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Team members see the accounts of their team's territories."))
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGES, initial="fr")
    password_mode = forms.ChoiceField(
        label=_("Password"), widget=forms.RadioSelect, initial=PASSWORD_LINK,
        choices=[(PASSWORD_LINK, _("Give them a link to choose their own password")),
                 (PASSWORD_SET, _("Set an initial password now"))])
    password = forms.CharField(label=_("Initial password"), required=False,
                               strip=False, widget=forms.PasswordInput(render_value=True,
                                                                       attrs={"autocomplete":
                                                                              "new-password"}))

    def __init__(self, *args: Any, instance: User | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "username": instance.username, "first_name": instance.first_name,
                "last_name": instance.last_name, "email": instance.email,
                "phone": instance.phone, "role": instance.role,
                "manager": instance.manager_id, "language": instance.language,
                "teams": list(instance.teams.values_list("pk", flat=True)),
            }
        super().__init__(*args, **kwargs)
        qs = users_for_choice(instance.manager_id if instance else None)
        if instance is not None:
            qs = qs.exclude(pk=instance.pk)
            del self.fields["password_mode"]
            del self.fields["password"]
        manager_field = self.fields["manager"]
        assert isinstance(manager_field, forms.ModelChoiceField)
        manager_field.queryset = qs

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password_mode") == self.PASSWORD_SET and not data.get("password"):
            self.add_error("password", _("Enter the initial password, or choose the link."))
        return data

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"username": d["username"], "first_name": d["first_name"],
                "last_name": d["last_name"], "email": d["email"], "phone": d["phone"],
                "role": d["role"], "manager_id": d["manager"].pk if d["manager"] else None,
                "language": d["language"]}

    def team_ids(self) -> list[int]:
        return [t.pk for t in self.cleaned_data["teams"]]

    def initial_password(self) -> str | None:
        if self.cleaned_data.get("password_mode") == self.PASSWORD_SET:
            return str(self.cleaned_data["password"])
        return None


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    leader = UserChoiceField(label=_("Leader"), queryset=User.objects.none(), required=False,
                             empty_label=_("No leader"))
    members = UsersChoiceField(label=_("Members"), queryset=User.objects.none(), required=False,
                               widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, instance: Team | None = None, **kwargs: Any) -> None:
        self.instance = instance
        members: list[int] = []
        if instance is not None:
            members = list(instance.members.values_list("pk", flat=True))
            kwargs.setdefault("initial", {"name": instance.name, "leader": instance.leader_id,
                                          "members": members})
        super().__init__(*args, **kwargs)
        leader = self.fields["leader"]
        member_field = self.fields["members"]
        assert isinstance(leader, forms.ModelChoiceField)
        assert isinstance(member_field, forms.ModelMultipleChoiceField)
        leader.queryset = users_for_choice(instance.leader_id if instance else None)
        member_field.queryset = users_for_choice(*members)

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"name": d["name"], "leader_id": d["leader"].pk if d["leader"] else None}

    def member_ids(self) -> list[int]:
        return [u.pk for u in self.cleaned_data["members"]]


class TerritoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    priority = forms.IntegerField(label=_("Priority"), min_value=0, initial=100,
                                  help_text=_("Lower numbers are tried first when several "
                                              "territories match an account."))
    default_owner = UserChoiceField(
        label=_("Default owner"), queryset=User.objects.none(), required=False,
        empty_label=_("Nobody"),
        help_text=_("Owner of accounts created here by an import or a data manager."))
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    teams = forms.ModelMultipleChoiceField(
        label=_("Teams"), queryset=Team.objects.all(), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Every member of these teams sees the territory's accounts."))
    members = UsersChoiceField(label=_("Members"), queryset=User.objects.none(), required=False,
                               widget=forms.CheckboxSelectMultiple,
                               help_text=_("People who see its accounts without being in one "
                                           "of its teams."))

    def __init__(self, *args: Any, instance: Any = None, **kwargs: Any) -> None:
        self.instance = instance
        members: list[int] = []
        if instance is not None:
            members = list(instance.members.values_list("pk", flat=True))
            kwargs.setdefault("initial", {
                "name": instance.name, "priority": instance.priority,
                "default_owner": instance.default_owner_id, "active": instance.active,
                "teams": list(instance.teams.values_list("pk", flat=True)),
                "members": members})
        super().__init__(*args, **kwargs)
        owner = self.fields["default_owner"]
        member_field = self.fields["members"]
        assert isinstance(owner, forms.ModelChoiceField)
        assert isinstance(member_field, forms.ModelMultipleChoiceField)
        owner.queryset = users_for_choice(instance.default_owner_id if instance else None)
        member_field.queryset = users_for_choice(*members)

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"name": d["name"], "priority": d["priority"], "active": d["active"],
                "default_owner_id": d["default_owner"].pk if d["default_owner"] else None}

    def member_ids(self) -> list[int]:
        return [u.pk for u in self.cleaned_data["members"]]

    def team_ids(self) -> list[int]:
        return [t.pk for t in self.cleaned_data["teams"]]


class TerritoryRuleForm(forms.Form):
    kind = forms.ChoiceField(label=_("Condition"), choices=TerritoryRule.Kind.choices)
    value = forms.CharField(label=_("Value"), max_length=20,
                            help_text=_("e.g. 69 for postcodes, FR for a country, 62 for a "
                                        "NAF code, 21 for a headcount band."))


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)


class PipelineEditForm(PipelineForm):
    idle_days = forms.IntegerField(
        label=_("Idle after (days)"), min_value=0, max_value=365, initial=14, required=False,
        help_text=_("An open deal with no activity for this many days is flagged idle on the "
                    "board; 0 turns the flag off."))


class StageForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    probability = forms.IntegerField(label=_("Probability (%)"), min_value=0, max_value=100,
                                     initial=10,
                                     help_text=_("Given to deals entering this stage."))
    is_won = forms.BooleanField(label=_("Means the deal is won"), required=False)
    is_lost = forms.BooleanField(label=_("Means the deal is lost"), required=False)

    def values(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class StageDeleteForm(forms.Form):
    move_to = forms.ModelChoiceField(label=_("Move its deals to"), queryset=Stage.objects.none(),
                                     required=False, empty_label=_("Choose a stage"))

    def __init__(self, *args: Any, stage: Stage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["move_to"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Stage.objects.filter(pipeline_id=stage.pipeline_id).exclude(
            pk=stage.pk).order_by("order")


def object_type_choices() -> list[tuple[str, Any]]:
    return [(value, label) for value, label in ObjectType.choices if value in CUSTOMIZABLE]


class CustomFieldForm(forms.Form):
    object_type = forms.ChoiceField(label=_("Object"), choices=object_type_choices)
    label = forms.CharField(label=_("Label"), max_length=100,
                            help_text=_("What people see on forms and pages."))
    name = forms.CharField(label=_("Key"), max_length=50,
                           help_text=_("Used by the API and imports: lower-case letters, digits "
                                       "and _. Cannot change later."))
    type = forms.ChoiceField(label=_("Type"), choices=CustomField.Type.choices,
                             help_text=_("Cannot change later."))
    choices = forms.CharField(label=_("Options"), required=False, widget=forms.Textarea(
        attrs={"rows": 5}), help_text=_("For a choice: one option per line, in order."))
    max_length = forms.IntegerField(label=_("Maximum length"), min_value=1, max_value=10000,
                                    initial=255, required=False,
                                    help_text=_("For text only."))
    required = forms.BooleanField(
        label=_("Required"), required=False,
        help_text=_("New records must fill it in; existing records are asked when this field "
                    "is edited."))
    active = forms.BooleanField(label=_("Active"), required=False, initial=True,
                                help_text=_("An inactive field is hidden; its values are kept."))

    def __init__(self, *args: Any, instance: CustomField | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault("initial", {
                "object_type": instance.object_type, "label": instance.label,
                "name": instance.name, "type": instance.type,
                "max_length": instance.max_length, "required": instance.required,
                "active": instance.active})
        super().__init__(*args, **kwargs)
        if instance is not None:  # fixed once created: shown, not sent
            for key in ("object_type", "name", "type"):
                self.fields[key].disabled = True
            del self.fields["choices"]
            if instance.type != CustomField.Type.TEXT:
                del self.fields["max_length"]

    def values(self) -> dict[str, Any]:
        d = dict(self.cleaned_data)
        if "choices" in d:
            d["choices"] = [line for line in (d["choices"] or "").splitlines() if line.strip()]
        if d.get("max_length") is None:
            d.pop("max_length", None)
        if self.instance is not None:
            for key in ("object_type", "name", "type"):
                d.pop(key, None)
        return d


class OptionForm(forms.Form):
    option = forms.CharField(label=_("New option"), max_length=OPTION_MAX_LENGTH)


class OptionRenameForm(forms.Form):
    option = forms.CharField(widget=forms.HiddenInput)
    new = forms.CharField(label=_("New name"), max_length=OPTION_MAX_LENGTH)


class OptionRemoveForm(forms.Form):
    replacement = forms.ChoiceField(label=_("Records holding it"), required=False,
                                    widget=forms.RadioSelect)

    def __init__(self, *args: Any, field: CustomField, option: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        replacement = self.fields["replacement"]
        assert isinstance(replacement, forms.ChoiceField)
        replacement.choices = [("", _("Clear their value"))] + [
            (str(c), _("Change it to “%(option)s”") % {"option": c})
            for c in field.choices if str(c) != option]
        replacement.initial = ""


# --- Company profile -----------------------------------------------------------------------

def _text(label: Any, max_length: int, *, help_text: Any = "", **attrs: Any) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=False,
                           help_text=help_text, widget=forms.TextInput(attrs=attrs))


class CompanyProfileForm(forms.Form):
    """The company profile as typed: identifiers may carry spaces and dots (the inputs are
    wider than the stored values), amounts French or English decimals; the service checks and
    normalises them (``comptoir.core.company``)."""

    legal_name = forms.CharField(
        label=_("Legal name"), max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
        help_text=_("As registered: printed on every document."),
        error_messages={"required": _("The legal name is printed on every quote and invoice: "
                                      "enter it.")})
    trade_name = _text(_("Trade name"), 200,
                       help_text=_("Shown at the top of the documents, when it differs."))
    legal_form = _text(_("Legal form"), 60, help_text=_("SAS, SARL, SA…"))
    share_capital = LocalDecimalField(label=_("Share capital (€)"), required=False,
                                      max_digits=15, decimal_places=2, min_value=0)
    logo = forms.FileField(label=_("Logo"), required=False, widget=forms.FileInput(
        attrs={"accept": "image/png,image/jpeg"}),
        help_text=_("PNG or JPEG, at most 1 MB; printed at the top of the documents."))
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)
    street = forms.CharField(label=_("Street"), max_length=200, required=False,
                             widget=forms.TextInput(attrs={"autocomplete": "address-line1"}))
    street2 = forms.CharField(label=_("Address line 2"), max_length=200, required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "address-line2"}))
    postcode = _text(_("Postcode"), 20, autocomplete="postal-code")
    city = _text(_("City"), 100, autocomplete="address-level2")
    country = _text(_("Country"), 2, help_text=_("Two-letter code: FR, BE, CH…"),
                    autocomplete="country")
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False,
                            widget=forms.TextInput(attrs={"type": "email",
                                                          "autocomplete": "email"}))
    website = _text(_("Website"), 200, inputmode="url", autocomplete="url")
    siren = _text(_("SIREN"), 40, inputmode="numeric",
                  help_text=_("9 digits; spaces and dots are fine. Taken from the SIRET when "
                              "left blank."))
    siret = _text(_("SIRET"), 40, inputmode="numeric",
                  help_text=_("14 digits: the SIREN and the establishment’s number."))
    vat_number = _text(_("Intra-EU VAT number"), 40,
                       help_text=_("For example: FR32123456789."))
    rcs = _text(_("Trade register (RCS)"), 100, help_text=_("For example: RCS Lyon"))
    naf_code = _text(_("NAF (APE) code"), 10, help_text=_("For example: 46.69B"))
    bank_name = _text(_("Bank"), 100)
    iban = _text(_("IBAN"), 50, help_text=_("Printed on invoices, in groups of four."))
    bic = _text(_("BIC"), 20)
    payment_terms = _text(_("Payment terms"), 200,
                          help_text=_("For example: 30 days end of month. An account’s own "
                                      "payment terms come first."))
    late_penalty_rate = LocalDecimalField(
        label=_("Late-payment penalty rate (yearly %)"), required=False, max_digits=6,
        decimal_places=2, min_value=0, max_value=100,
        help_text=_("At least three times the legal interest rate. Left blank, invoices say "
                    "the legal default: the ECB rate plus 10 points."))
    recovery_indemnity = LocalDecimalField(
        label=_("Fixed recovery indemnity (€)"), required=False, max_digits=8,
        decimal_places=2, min_value=0,
        help_text=_("40 € under French law (Commercial Code, art. D441-5)."))
    early_payment_discount = _text(
        _("Early payment discount"), 200,
        help_text=_("For example: 2 per cent for payment within 8 days. Left blank, "
                    "invoices say there is none."))
    quote_validity_days = forms.IntegerField(
        label=_("Quotes valid for (days)"), min_value=1, max_value=3650, initial=30,
        help_text=_("Printed on quotes that have no validity date of their own."))
    footer = forms.CharField(
        label=_("Other mentions"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Printed at the end of every document, e.g. “VAT not applicable, art. "
                    "293 B of the CGI”."))

    GROUPS: ClassVar[tuple[tuple[str, Any, tuple[str, ...]], ...]] = (
        ("identity", _("Identity"), ("legal_name", "trade_name", "legal_form",
                                     "share_capital")),
        ("address", _("Address and contact"), ("street", "street2", "postcode", "city",
                                               "country", "phone", "email", "website")),
        ("registration", _("Registration"), ("siren", "siret", "vat_number", "rcs",
                                             "naf_code")),
        ("bank", _("Bank details"), ("bank_name", "iban", "bic")),
        ("terms", _("Payment terms and legal mentions"),
         ("payment_terms", "late_penalty_rate", "recovery_indemnity",
          "early_payment_discount", "quote_validity_days", "footer")),
    )

    def __init__(self, *args: Any, profile: CompanyProfile, **kwargs: Any) -> None:
        self.profile = profile
        kwargs.setdefault("initial", self.shown(profile))
        super().__init__(*args, **kwargs)

    @staticmethod
    def shown(profile: CompanyProfile) -> dict[str, Any]:
        """The stored values as people read them: identifiers in their groups
        (``123 456 782``, ``FR76 3000 …``), amounts in the reader's format (``50 000``)."""
        values = {name: getattr(profile, name) for name in EDITABLE}
        values["siren"] = format_siren(profile.siren)
        values["siret"] = format_siret(profile.siret)
        values["iban"] = format_iban(profile.iban)
        for name in ("share_capital", "late_penalty_rate", "recovery_indemnity"):
            values[name] = format_number(values[name])
        return values

    def groups(self) -> list[tuple[str, Any, list[forms.BoundField]]]:
        """The sections of the page with their fields, in order (the logo is apart)."""
        return [(key, label, [self[name] for name in names])
                for key, label, names in self.GROUPS]

    def values(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name) for name in EDITABLE}
        if data["quote_validity_days"] is None:
            data["quote_validity_days"] = 30
        return data


# --- Lost reasons --------------------------------------------------------------------------

class LostReasonForm(forms.Form):
    name = forms.CharField(label=_("New reason"), max_length=LostReason._meta.get_field(
        "name").max_length)


class LostReasonRenameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=LostReason._meta.get_field(
        "name").max_length)
