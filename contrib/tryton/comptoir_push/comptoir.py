"""Pending changes and their delivery to Comptoir's push API.

A change to a party or a customer invoice writes a ``comptoir.push.event`` in the same
transaction, so only committed changes are ever sent, and queues a delivery task that Tryton
runs right after the commit (or its worker does). The delivery reads each record as it is now,
shapes it as Comptoir's Tryton connector does (the same mapping reads both), signs the request
(HMAC-SHA256 of "timestamp.body") and sends it with the body's hash as idempotency key, so a
request sent twice is applied once. Events are deleted only once Comptoir answered 200; when
Comptoir is down or refuses the request they stay, and the cron sends them again.

Configuration, in trytond.conf::

    [comptoir]
    url = https://crm.example.com
    connection = tryton-push
    secret = the push key of that connection
    timeout = 10
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import date, datetime
from decimal import Decimal

from trytond.config import config
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.rpc import RPC
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)

SECTION = 'comptoir'
CHUNK = 500  # records per request (Comptoir accepts up to 1,000)
INVOICE_KEY = 'account.invoice,%s'


def configured():
    return bool(config.get(SECTION, 'url', default='')
        and config.get(SECTION, 'connection', default='')
        and config.get(SECTION, 'secret', default=''))


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _compact(code):
    return ''.join(ch for ch in str(code or '') if ch.isalnum()).upper()


def post(payload):
    """Send one batch; True when Comptoir took it (quarantined records included)."""
    body = json.dumps(payload, default=_json_default, separators=(',', ':')).encode()
    stamp = str(int(time.time()))
    secret = config.get(SECTION, 'secret')
    signature = 'sha256=' + hmac.new(
        secret.encode(), stamp.encode() + b'.' + body, hashlib.sha256).hexdigest()
    base = config.get(SECTION, 'url').rstrip('/')
    url = f"{base}/api/v1/integration/push/{config.get(SECTION, 'connection')}"
    request = urllib.request.Request(url, data=body, method='POST', headers={
            'Content-Type': 'application/json',
            'X-Comptoir-Timestamp': stamp,
            'X-Comptoir-Signature': signature,
            'Idempotency-Key': hashlib.sha256(body).hexdigest(),
            })
    timeout = config.getfloat(SECTION, 'timeout', default=10)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b'{}')
    except urllib.error.HTTPError as exc:
        logger.warning("Comptoir refused %s records of %s (HTTP %s): %s",
            len(payload['records']), payload['stream'], exc.code,
            exc.read()[:500].decode(errors='replace'))
        return False
    except (OSError, ValueError) as exc:
        logger.warning("Comptoir unreachable at %s: %s", url, exc)
        return False
    if answer.get('quarantined'):
        logger.warning("Comptoir quarantined %s record(s) of %s (run %s)",
            answer['quarantined'], payload['stream'], answer.get('run_id'))
    return True


def party_records(ids):
    """Parties shaped as Comptoir's Tryton connector reads them (first address, first
    contact mechanism of each type, SIREN/SIRET/VAT)."""
    Party = Pool().get('party.party')
    with Transaction().set_context(active_test=False):
        parties = {p.id: p for p in Party.search([('id', 'in', ids)])}
    out = []
    for party_id in ids:
        party = parties.get(party_id)
        if party is None:
            out.append({'key': str(party_id), 'deleted': True})
            continue
        addresses = sorted((a for a in party.addresses if a.active),
            key=lambda a: (a.sequence is None, a.sequence or 0, a.id))
        address = addresses[0] if addresses else None
        mechanisms = {}
        # a person's mechanisms (those with a name) only when the party has none of its own
        for mechanism in sorted(party.contact_mechanisms,
                key=lambda m: (bool((m.name or '').strip()), m.sequence is None,
                    m.sequence or 0, m.id)):
            mechanisms.setdefault(mechanism.type, mechanism.value or '')
        identifiers = {}
        for identifier in party.identifiers:
            identifiers.setdefault(identifier.type or '', _compact(identifier.code))
        siret = identifiers.get('fr_siret') or ''
        out.append({'key': str(party.id), 'data': {
                    'id': party.id, 'name': party.name or '', 'code': party.code or '',
                    'active': bool(party.active),
                    'siren': identifiers.get('fr_siren') or siret[:9], 'siret': siret,
                    'vat': identifiers.get('eu_vat') or identifiers.get('fr_vat') or '',
                    'street': ((address.street if address else '') or '').replace(
                        '\n', ', '),
                    'postal_code': (address.postal_code if address else '') or '',
                    'city': (address.city if address else '') or '',
                    'country': (address.country.code
                        if address and address.country else '') or '',
                    'email': mechanisms.get('email', ''),
                    'phone': mechanisms.get('phone', ''),
                    'mobile': mechanisms.get('mobile', ''),
                    'website': mechanisms.get('website', ''),
                    }})
    return out


def _tax_rate(taxes):
    rate = sum((t.rate or Decimal(0) for t in taxes if t.type == 'percentage'), Decimal(0))
    return (rate * 100).normalize() if rate else Decimal(0)


def invoice_records(ids):
    """Customer invoices and credit notes shaped as the connector reads them."""
    Invoice = Pool().get('account.invoice')
    with Transaction().set_context(active_test=False):
        invoices = {i.id: i for i in Invoice.search([('id', 'in', ids)])}
    out = []
    for invoice_id in ids:
        invoice = invoices.get(invoice_id)
        if invoice is None:
            out.append({'key': INVOICE_KEY % invoice_id, 'deleted': True})
            continue
        if invoice.type != 'out':
            continue
        lines = [{
                'id': line.id, 'product': line.product.id if line.product else None,
                'description': line.description or '', 'quantity': line.quantity,
                'unit_price': line.unit_price, 'tax_rate': _tax_rate(line.taxes),
                } for line in sorted(invoice.lines,
                    key=lambda ln: (ln.sequence is None, ln.sequence or 0, ln.id))
            if line.type == 'line']
        total = invoice.total_amount or Decimal(0)
        kind = invoice.sequence_type_cache or (
            'credit_note' if total < 0 and all(
                Decimal(str(ln['quantity'] or 0)) * (ln['unit_price'] or 0) <= 0
                for ln in lines) else 'invoice')
        maturities = [ml.maturity_date for ml in invoice.lines_to_pay if ml.maturity_date]
        out.append({'key': INVOICE_KEY % invoice.id, 'data': {
                    'id': invoice.id, 'number': invoice.number or '',
                    'draft_ref': f'#{invoice.id}', 'reference': invoice.reference or '',
                    'description': invoice.description or '', 'state': invoice.state,
                    'invoice_date': invoice.invoice_date,
                    'due_date': min(maturities) if maturities
                    else invoice.payment_term_date,
                    'party': invoice.party.id, 'sequence_type': kind,
                    'currency': invoice.currency.code if invoice.currency else '',
                    'untaxed_amount': invoice.untaxed_amount,
                    'tax_amount': invoice.tax_amount, 'total_amount': total,
                    'amount_to_pay': invoice.amount_to_pay, 'lines': lines,
                    }})
    return out


BUILDERS = {'parties': party_records, 'invoices': invoice_records}


class PushEvent(ModelSQL, ModelView):
    "Comptoir Push Event"
    __name__ = 'comptoir.push.event'
    stream = fields.Char("Stream", required=True)
    record = fields.Integer("Record", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({'send_pending': RPC(readonly=False)})

    @classmethod
    def enqueue(cls, stream, ids):
        """Remember that these records changed and deliver them after the commit."""
        ids = sorted({int(i) for i in ids if i is not None and int(i) >= 0})
        if not ids or not configured():
            return
        events = cls.create([{'stream': stream, 'record': i} for i in ids])
        with Transaction().set_context(queue_name='comptoir'):
            cls.__queue__.deliver(events)

    @classmethod
    def deliver(cls, events):
        cls.send_pending()

    @classmethod
    def send_pending(cls):
        """Send every pending change, oldest first; stop at the first refusal (the rest waits
        for the next attempt). Returns the number of records Comptoir took."""
        if not configured():
            return 0
        sent = 0
        events = cls.search([], order=[('id', 'ASC')], limit=10000)
        by_stream = {}
        for event in events:
            by_stream.setdefault(event.stream, {}).setdefault(event.record, []).append(event)
        for stream, records in by_stream.items():
            builder = BUILDERS.get(stream)
            if builder is None:
                cls.delete([e for evs in records.values() for e in evs])
                continue
            ids = list(records)
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                payload = {'stream': stream, 'records': builder(chunk)}
                if payload['records'] and not post(payload):
                    return sent
                cls.delete([e for i in chunk for e in records[i]])
                sent += len(payload['records'])
        return sent


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('comptoir.push.event|send_pending', "Send Pending Changes to Comptoir"))
