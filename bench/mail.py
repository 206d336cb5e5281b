"""Mailbox logging and the calendar at scale (issue 16).

    python bench/mail.py                              # 20,000 messages, 1M contacts, 1M activities
    python bench/mail.py --contacts 100000 --activities 100000 --messages 2000
    python bench/mail.py --no-mailbox                 # the calendar alone
    python bench/mail.py --no-calendar                # the mailbox alone

Runs in a throwaway data directory on SQLite, in this process.

(a) Mailbox logging: ``--contacts`` contacts (20 per account, accounts of 50 owners) are
written by the database (``INSERT … SELECT``, see :func:`insert_generated`); a real Dovecot
(``comptoir.testing.dovecot``) receives ``--messages`` messages by IMAP ``APPEND`` over four
connections (a third from known contacts,
a third from unknown people at known companies' domains or free-mail addresses, a third
between colleagues), then ``mailbox.services.fetch_mailbox`` logs them as the worker would:
messages/s. Then the time to match one address (``match_addresses([address])``, as a fetch
batch does for each message's addresses): p50/p95 over ``--lookups`` random known and
unknown addresses (target p95 < 5 ms; the ``LOWER(email)`` indexes of crm 0009).

(b) Calendar: ``--activities`` activities over three years for 50 owners, of which a team of
10 led by a manager; the manager's week of the team: ``calendar.calendar_activities``
(evaluated) and the ``/calendar/?owner=team`` page through Django's test client, p50/p95
over ``--requests`` requests each (target p95 < 150 ms).

Figures only, nothing asserted: the machine may be shared. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import imaplib
import json
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import comptoir, peak_rss_mb, percentiles, setup_django

BATCH = 5_000
APPENDERS = 4  # IMAP connections delivering the messages at once
OWNERS = 50
TEAM = 10
CONTACTS_PER_ACCOUNT = 20
FREE = ["gmail.com", "orange.fr", "outlook.com"]
WORDS = ["Atelier", "Groupe", "Industries", "Services", "Conseil", "Logistique", "Transports"]


def log(text: str) -> None:
    print(text, flush=True)


def make_users() -> tuple[Any, list[Any]]:
    """A manager leading a team of 10 reps, and 40 other reps: the 50 owners."""
    from comptoir.access.models import Role, Team, User

    manager = User.objects.create_user("bench.manager", password="x", role=Role.MANAGER,
                                       email="manager@comptoir.example", language="en")
    owners = [User(username=f"bench.rep{i}", role=Role.REP, email=f"rep{i}@comptoir.example",
                   manager=manager if i < TEAM else None, first_name=f"Rep{i}")
              for i in range(OWNERS)]
    User.objects.bulk_create(owners)
    owners = list(User.objects.filter(username__startswith="bench.rep").order_by("id"))
    team = Team.objects.create(name="Bench team", leader=manager)
    team.members.set(owners[:TEAM])
    return manager, owners


def make_accounts(count: int, owners: list[Any], rnd: random.Random) -> list[int]:
    from comptoir.crm.models import Account

    start = time.perf_counter()
    for lo in range(0, count, BATCH):
        Account.objects.bulk_create([
            Account(legal_name=f"{rnd.choice(WORDS)} {i}", owner=owners[i % OWNERS],
                    email=f"contact@company{i}.fr", website=f"https://www.company{i}.fr")
            for i in range(lo, min(count, lo + BATCH))])
    ids = list(Account.objects.order_by("id").values_list("id", flat=True))
    log(f"accounts: {count:,} in {time.perf_counter() - start:.1f} s")
    return ids


def insert_generated(model: Any, count: int, exprs: dict[str, str], template: Any) -> None:
    """``count`` rows written by the database itself, ``BATCH * 20`` at a time: ``INSERT …
    SELECT`` over a recursive sequence ``i``; the columns in ``exprs`` are SQL expressions of
    ``i``, every other column the value ``template`` (an unsaved instance) would store. Far
    faster than building a million model instances in Python."""
    from django.db import connection, transaction

    columns, values, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(connection.ops.quote_name(f.column))
        if f.column in exprs:
            values.append(exprs[f.column])
        else:
            values.append("%s")
            params.append(f.get_db_prep_save(f.pre_save(template, add=True), connection))
    chunk = BATCH * 20
    for lo in range(0, count, chunk):
        hi = min(count, lo + chunk) - 1
        sql = (f"WITH RECURSIVE seq(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM seq "
               f"WHERE i < {hi}) INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
               f"SELECT {', '.join(values)} FROM seq")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)


def make_contacts(count: int, account_ids: list[int]) -> None:
    from comptoir.crm.models import Contact

    first, n = account_ids[0], len(account_ids)
    assert account_ids == list(range(first, first + n)), "account ids not contiguous"
    start = time.perf_counter()
    acc = f"((i / {CONTACTS_PER_ACCOUNT}) % {n})"
    insert_generated(Contact, count, {
        "account_id": f"({first} + {acc})",
        "last_name": "'Contact' || i",
        "email": f"'person' || i || '@company' || {acc} || '.fr'",
    }, Contact(account_id=first, first_name="Camille", last_name="x"))
    seconds = time.perf_counter() - start
    log(f"contacts: {count:,} in {seconds:.1f} s ({count / seconds:,.0f}/s)")


def make_activities(count: int, owners: list[Any], account_ids: list[int]) -> None:
    """Three years centred on today, one every 15 minutes' slot at random; a third tasks (due
    date), a third meetings and calls (start and end), a third notes and e-mails the calendar
    leaves out (but which are in the same table and indexes)."""
    from django.utils import timezone

    from comptoir.activities.models import Activity

    owner_ids = [o.pk for o in owners]
    o0, n = owner_ids[0], len(account_ids)
    assert owner_ids == list(range(o0, o0 + OWNERS)), "owner ids not contiguous"
    a0 = account_ids[0]
    base = int((timezone.now() - dt.timedelta(days=548)).timestamp()) // 900 * 900
    now = int(timezone.now().timestamp())
    slots = 3 * 365 * 24 * 4
    at = f"({base} + ((i * 104729) % {slots}) * 900)"
    when = f"datetime({at}, 'unixepoch')"
    kind = "(CASE i % 6 WHEN 0 THEN 'meeting' WHEN 1 THEN 'call' WHEN 2 THEN 'task' " \
           "WHEN 3 THEN 'task' WHEN 4 THEN 'note' ELSE 'email' END)"
    timed = "(i % 6) IN (0, 1, 4, 5)"
    start = time.perf_counter()
    insert_generated(Activity, count, {
        "kind": kind,
        "subject": "'Activity ' || i",
        "owner_id": f"({o0} + (i * 7919) % {OWNERS})",
        "account_id": f"({a0} + (i * 15485863) % {n})",
        "start_at": f"(CASE WHEN {timed} THEN {when} END)",
        "end_at": f"(CASE WHEN {timed} THEN datetime({at} + 1800, 'unixepoch') END)",
        "due_at": f"(CASE WHEN {timed} THEN NULL ELSE {when} END)",
        "done": f"({at} < {now})",
    }, Activity(subject="x", owner_id=o0))
    seconds = time.perf_counter() - start
    log(f"activities: {count:,} in {seconds:.1f} s ({count / seconds:,.0f}/s)")


# --- (a) Mailbox -----------------------------------------------------------------------------

def message_for(i: int, rnd: random.Random, contacts: int, accounts: int) -> bytes:
    kind = i % 3
    if kind == 0:  # from a known contact
        c = rnd.randrange(contacts)
        sender = f"person{c}@company{(c // CONTACTS_PER_ACCOUNT) % accounts}.fr"
    elif kind == 1:  # someone unknown, at a known company or a free-mail address
        sender = (f"new{i}@company{rnd.randrange(accounts)}.fr" if i % 2
                  else f"someone{i}@{rnd.choice(FREE)}")
    else:  # a colleague
        sender = f"rep{rnd.randrange(OWNERS)}@comptoir.example"
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "manager@comptoir.example"
    msg["Subject"] = f"Bench message {i}"
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(domain="bench.example")
    msg.set_content(f"Hello,\n\nmessage number {i}.\n\n" + "Some words. " * 40)
    return msg.as_bytes()


def bench_mailbox(args: argparse.Namespace, manager: Any, rnd: random.Random,
                  accounts: int) -> dict[str, Any]:
    from comptoir.mailbox.models import Mailbox
    from comptoir.mailbox.services import fetch_mailbox, match_addresses
    from comptoir.testing.dovecot import Dovecot, dovecot_available

    out: dict[str, Any] = {}
    if not dovecot_available():
        log("mailbox: no Dovecot binary, skipped")
        return {"skipped": "no dovecot"}
    server = Dovecot(users={"manager": "bench-password"}).start()
    try:
        start = time.perf_counter()
        raws = [message_for(i, rnd, args.contacts, accounts) for i in range(args.messages)]

        def append(part: list[bytes]) -> None:
            imap = imaplib.IMAP4(server.host, server.port, timeout=120)
            imap.login("manager", "bench-password")
            for raw in part:
                imap.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
            imap.logout()

        with ThreadPoolExecutor(APPENDERS) as pool:  # several connections, as an MTA would
            list(pool.map(append, [raws[k::APPENDERS] for k in range(APPENDERS)]))
        seconds = time.perf_counter() - start
        log(f"APPEND: {args.messages:,} messages in {seconds:.1f} s "
            f"({args.messages / seconds:,.0f}/s)")
        box = Mailbox.objects.create(user=manager, host=server.host, port=server.port,
                                     security=Mailbox.Security.NONE, username="manager",
                                     password="bench-password", folders="INBOX",
                                     address="manager@comptoir.example")
        start = time.perf_counter()
        result = fetch_mailbox(box)
        seconds = time.perf_counter() - start
        out["fetch"] = {"messages": result.seen, "logged": result.logged,
                        "seconds": round(seconds, 1),
                        "messages_per_s": round(result.seen / seconds, 1) if seconds else None}
        log(f"fetch + log: {result.seen:,} messages seen, {result.logged:,} logged in "
            f"{seconds:.1f} s → {result.seen / seconds:,.0f} messages/s")
    finally:
        server.stop()

    samples: dict[str, list[float]] = {"known": [], "unknown_company": [], "unknown_free": []}
    for n in range(args.lookups):
        which = ("known", "unknown_company", "unknown_free")[n % 3]
        c = rnd.randrange(args.contacts)
        address = {
            "known": f"Person{c}@Company{(c // CONTACTS_PER_ACCOUNT) % accounts}.fr",
            "unknown_company": f"nobody{n}@company{rnd.randrange(accounts)}.fr",
            "unknown_free": f"nobody{n}@{rnd.choice(FREE)}",
        }[which]
        t = time.perf_counter()
        match_addresses([address])
        samples[which].append(time.perf_counter() - t)
    from django.db import connection
    from django.db.models import Q
    from django.db.models.functions import Lower

    from comptoir.crm.models import Contact

    probe = (Contact.objects.annotate(e1=Lower("email"), e2=Lower("email_secondary"))
             .filter(Q(e1__in=["a@b.fr"]) | Q(e2__in=["a@b.fr"])).values_list("id"))
    sql, params = probe.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = [row[-1] for row in cursor.fetchall()]
    log(f"contact lookup plan: {' / '.join(plan)}")
    out["contact_plan"] = plan
    out["match"] = {k: percentiles(v) for k, v in samples.items()}
    out["match"]["all"] = percentiles([s for v in samples.values() for s in v])
    for k, v in out["match"].items():
        log(f"match one address ({k}): p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms (n={v['n']})")
    return out


# --- (b) Calendar ----------------------------------------------------------------------------

def bench_calendar(args: argparse.Namespace, manager: Any, owners: list[Any]
                   ) -> dict[str, Any]:
    from django.test import Client
    from django.utils import timezone

    from comptoir.access.models import User
    from comptoir.activities.calendar import calendar_activities

    manager = User.objects.get(pk=manager.pk)
    team_ids = [o.pk for o in owners[:TEAM]] + [manager.pk]
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    lo = timezone.make_aware(dt.datetime.combine(monday, dt.time()))
    hi = lo + dt.timedelta(days=7)
    selector, count = [], 0
    for _n in range(args.requests):
        t = time.perf_counter()
        count = len(list(calendar_activities(manager, team_ids, lo, hi)))
        selector.append(time.perf_counter() - t)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(manager)
    url = f"/calendar/?view=week&owner=team&date={today.isoformat()}"
    status = client.get(url).status_code  # warm-up (templates, session)
    page = []
    for _n in range(args.requests):
        t = time.perf_counter()
        response = client.get(url)
        page.append(time.perf_counter() - t)
        status = response.status_code
    out = {"week_items": count, "selector": percentiles(selector), "page": percentiles(page),
           "page_status": status}
    log(f"calendar selector (team week, {count} items): p50 {out['selector']['p50_ms']} ms, "
        f"p95 {out['selector']['p95_ms']} ms")
    log(f"/calendar/ team week page (HTTP {status}): p50 {out['page']['p50_ms']} ms, "
        f"p95 {out['page']['p95_ms']} ms")
    return out


def main() -> None:
    global OWNERS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--no-mailbox", action="store_true")
    parser.add_argument("--no-calendar", action="store_true")
    parser.add_argument("--owners", type=int, default=OWNERS,
                        help="users owning the records, the team of 10 among them (default 50: "
                             "a dense agenda, ~850 calendar items in the team's week at 1M)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--analyze", action="store_true",
                        help="run ANALYZE first (Comptoir never does: the planner's statistics "
                             "can change the plans measured)")
    args = parser.parse_args()
    OWNERS = max(args.owners, TEAM)

    data_dir = Path(tempfile.mkdtemp(prefix="comptoir-bench-mail-"))
    results: dict[str, Any] = {"sizes": {"messages": args.messages, "contacts": args.contacts,
                                         "activities": args.activities}}
    try:
        comptoir(data_dir, "migrate", "--verbosity", "0")
        setup_django(data_dir)
        from django.db import connection

        rnd = random.Random(16)
        manager, owners = make_users()
        accounts = max(1, args.contacts // CONTACTS_PER_ACCOUNT)
        account_ids = make_accounts(accounts, owners, rnd)
        if not args.no_mailbox:
            make_contacts(args.contacts, account_ids)
        if not args.no_calendar:
            make_activities(args.activities, owners, account_ids)
        if args.analyze:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        if not args.no_mailbox:
            results["mailbox"] = bench_mailbox(args, manager, rnd, accounts)
        if not args.no_calendar:
            results["calendar"] = bench_calendar(args, manager, owners)
        results["peak_rss_mb"] = round(peak_rss_mb(), 1)
        print(json.dumps(results))
    finally:
        if args.keep:
            log(f"data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
