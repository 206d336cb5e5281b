"""Customer invoices and credit notes: their changes (lines, posting, payments) are pushed."""

from trytond.pool import Pool, PoolMeta


def _enqueue(invoices):
    Pool().get('comptoir.push.event').enqueue(
        'invoices', [i.id for i in invoices if i.type == 'out'])


class Invoice(metaclass=PoolMeta):
    __name__ = 'account.invoice'

    @classmethod
    def on_modification(cls, mode, invoices, field_names=None):
        super().on_modification(mode, invoices, field_names=field_names)
        _enqueue(invoices)


class InvoiceLine(metaclass=PoolMeta):
    __name__ = 'account.invoice.line'

    @classmethod
    def on_modification(cls, mode, lines, field_names=None):
        super().on_modification(mode, lines, field_names=field_names)
        _enqueue([line.invoice for line in lines if line.invoice])
