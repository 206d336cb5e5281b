"""Parties and what Comptoir reads with them: their changes are pushed."""

from trytond.pool import Pool, PoolMeta


def _enqueue(party_ids):
    Pool().get('comptoir.push.event').enqueue('parties', party_ids)


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    @classmethod
    def on_modification(cls, mode, parties, field_names=None):
        super().on_modification(mode, parties, field_names=field_names)
        _enqueue([p.id for p in parties])


class _PartChild:
    """Addresses, contact mechanisms and identifiers: Tryton does not touch their party
    when they change, so they bring it back themselves."""

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        _enqueue([r.party.id for r in records if r.party])


class Address(_PartChild, metaclass=PoolMeta):
    __name__ = 'party.address'


class ContactMechanism(_PartChild, metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'


class Identifier(_PartChild, metaclass=PoolMeta):
    __name__ = 'party.identifier'
