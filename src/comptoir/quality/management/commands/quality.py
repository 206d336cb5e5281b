"""``comptoir quality``: data quality from the command line, as in the API and the web pages.

    comptoir quality gaps account 42                       # what each profile still lacks
    comptoir quality merge account 42 57 --dry-run --as claire.dubois   # the preview
    comptoir quality merge account 42 57 --pick legal_name=57 --as claire.dubois
    comptoir quality undo 12 --as claire.dubois            # a merge, by its id
    comptoir quality promotions [--status pending]         # the promotion requests
    comptoir quality approve 7 --as claire.dubois
    comptoir quality reject 7 --note "Not a company" --as claire.dubois
    comptoir quality merge-into 7 --customer 42 --as claire.dubois

Every decision runs through the same services, with the same permissions and audit trail, as
the API: ``--as`` names the user it is made for (a data manager or an administrator).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from comptoir.access.models import User
from comptoir.core.errors import DomainError
from comptoir.core.services import json_value
from comptoir.quality import merge, profiles, promotion
from comptoir.quality.dedupe import source_for
from comptoir.quality.models import MergeRecord, PromotionRequest

OBJECTS = ("account", "contact", "lead")


class Command(BaseCommand):
    help = ("Data quality: a record's profile gaps, merges and their undo, the promotion "
            "requests to the ERP.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        gaps = sub.add_parser("gaps", help="What a record lacks for the lead, crm, erp profiles.")
        gaps.add_argument("object", choices=OBJECTS)
        gaps.add_argument("id", type=int)
        gaps.add_argument("--format", choices=("text", "json"), default="text")

        merge_ = sub.add_parser("merge", help="Merge records into the first one (survivor).")
        merge_.add_argument("object", choices=OBJECTS)
        merge_.add_argument("survivor", type=int)
        merge_.add_argument("losers", type=int, nargs="+")
        merge_.add_argument("--pick", action="append", default=[], metavar="FIELD=ID",
                            help="Take FIELD's value from record ID (repeatable).")
        merge_.add_argument("--dry-run", action="store_true", help="Show the preview only.")
        self._as(merge_)

        undo = sub.add_parser("undo", help="Undo a merge (by its id).")
        undo.add_argument("merge_id", type=int)
        self._as(undo)

        listing = sub.add_parser("promotions", help="List the promotion requests.")
        listing.add_argument("--status", choices=PromotionRequest.Status.values)

        approve = sub.add_parser("approve", help="Approve a promotion request.")
        approve.add_argument("request_id", type=int)
        self._as(approve)
        reject = sub.add_parser("reject", help="Reject a promotion request.")
        reject.add_argument("request_id", type=int)
        reject.add_argument("--note", required=True, help="Why (kept with the decision).")
        self._as(reject)
        into = sub.add_parser("merge-into", help="Merge a request's prospect into a customer.")
        into.add_argument("request_id", type=int)
        into.add_argument("--customer", type=int, required=True)
        self._as(into)

    @staticmethod
    def _as(parser: CommandParser) -> None:
        parser.add_argument("--as", dest="username", required=True,
                            help="The data manager or administrator deciding (audit trail).")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        try:
            getattr(self, f"_{action}")(options)
        except DomainError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {details}".strip()) from exc

    def _user(self, options: dict[str, Any]) -> Any:
        if not options.get("username"):
            raise CommandError("--as USERNAME is required to change anything.")
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['username']!r}.")
        return user

    # --- Profiles ---------------------------------------------------------------------------

    def _gaps(self, options: dict[str, Any]) -> None:
        model = source_for(options["object"]).model
        record = model._default_manager.filter(pk=options["id"]).first()
        if record is None:
            raise CommandError(f"No {options['object']} {options['id']}.")
        report = profiles.profile_report(options["object"], record)
        if options["format"] == "json":
            self.stdout.write(json.dumps({name: [g.as_dict() for g in found]
                                          for name, found in report.items()},
                                         ensure_ascii=False, indent=2))
            return
        for name, found in report.items():
            self.stdout.write(f"{name}: {'ok' if not found else f'{len(found)} gap(s)'}")
            for gap in found:
                fields = f" [{', '.join(gap.fields)}]" if gap.fields else ""
                self.stdout.write(f"  - {gap.message}{fields}")

    # --- Merges -----------------------------------------------------------------------------

    def _merge(self, options: dict[str, Any]) -> None:
        choices: dict[str, int] = {}
        for pick in options["pick"]:
            name, _sep, value = pick.partition("=")
            if not name or not value.isdigit():
                raise CommandError(f"--pick {pick!r}: write FIELD=ID.")
            choices[name] = int(value)
        kwargs = {"object_type": options["object"], "survivor_id": options["survivor"],
                  "loser_ids": options["losers"], "choices": choices}
        if options["dry_run"]:
            plan = merge.merge_preview(user=self._user(options), **kwargs)
            for p in plan.fields.values():
                if p.differs or p.field in plan.changes:
                    self.stdout.write(f"{p.field}: {json_value(p.value)!r} (from #{p.source_id}"
                                      f", {p.rule})")
            for label, count in sorted(plan.related.items()):
                self.stdout.write(f"moves {count} × {label}")
            for warning in plan.warnings:
                self.stdout.write(f"warning: {warning}")
            self.stdout.write("Dry run: nothing merged.")
            return
        with transaction.atomic():
            record = merge.merge_records(user=self._user(options), source="cli", **kwargs)
        moved = sum(len(pks) for _label, _attname, _loser, pks in record.moved)
        self.stdout.write(f"Merge {record.pk}: {record.loser_ids} merged into "
                          f"#{record.survivor_id}; {len(record.survivor_changes)} field(s) "
                          f"changed, {moved} related record(s) moved. Undo: comptoir quality "
                          f"undo {record.pk} --as {options['username']}")

    def _undo(self, options: dict[str, Any]) -> None:
        user = self._user(options)
        record = MergeRecord.objects.filter(pk=options["merge_id"]).first()
        if record is None:
            raise CommandError(f"No merge {options['merge_id']}.")
        with transaction.atomic():
            done = merge.merge_undo(merge=record, user=user, source="cli")
        self.stdout.write(f"Merge {record.pk} undone: {done['restored']} restored, "
                          f"{done['moved_back']} related record(s) moved back"
                          + (f"; kept as changed since: {', '.join(done['kept_fields'])}"
                             if done["kept_fields"] else "") + ".")

    # --- Promotions -------------------------------------------------------------------------

    def _promotions(self, options: dict[str, Any]) -> None:
        promotion.promotions_process()
        qs = PromotionRequest.objects.select_related("account", "document").order_by(
            "-requested_at", "-id")
        if options["status"]:
            qs = qs.filter(status=options["status"])
        for r in qs[:500]:
            document = f" {r.document.number}" if r.document_id and r.document else ""
            self.stdout.write(f"{r.pk:>6}  {r.status:<9} {r.get_trigger_display()}{document}  "
                              f"#{r.account_id} {r.account}")

    def _request(self, options: dict[str, Any]) -> PromotionRequest:
        found = PromotionRequest.objects.filter(pk=options["request_id"]).first()
        if found is None:
            raise CommandError(f"No promotion request {options['request_id']}.")
        return found

    def _approve(self, options: dict[str, Any]) -> None:
        done = promotion.promotion_approve(request=self._request(options),
                                           user=self._user(options), source="cli")
        self.stdout.write(f"Request {done.pk} approved: #{done.account_id} becomes a customer; "
                          "the ERP connection creates it at its next outbound run.")

    def _reject(self, options: dict[str, Any]) -> None:
        done = promotion.promotion_reject(request=self._request(options),
                                          user=self._user(options), note=options["note"])
        self.stdout.write(f"Request {done.pk} rejected.")

    def _merge_into(self, options: dict[str, Any]) -> None:
        done = promotion.promotion_merge(request=self._request(options),
                                         user=self._user(options),
                                         customer_id=options["customer"], source="cli")
        self.stdout.write(f"Request {done.pk}: the prospect was merged into #{done.account_id}.")
