"""Registration of every served model with the policy (imported by AccessConfig.ready)."""

from __future__ import annotations

from .models import Role
from .policy import Rule, register


def register_all() -> None:
    from comptoir.activities.models import Activity
    from comptoir.crm.models import Account, Contact, Lead, Opportunity
    from comptoir.documents.models import Attachment
    from comptoir.quality.models import PromotionRequest
    from comptoir.sales.models import (
        PriceList,
        PriceListItem,
        Product,
        SalesDocument,
        SalesDocumentLine,
    )
    from comptoir.service.models import Case

    marketing_service = frozenset({Role.MARKETING, Role.SERVICE})
    register(Account, Rule(account_path="", owner_path="owner",
                           role_read_all=marketing_service))
    register(Contact, Rule(account_path="account", owner_path="owner",
                           role_read_all=marketing_service))
    register(Lead, Rule(account_path=None, owner_path="owner",
                        role_read_all=frozenset({Role.MARKETING}),
                        role_change_all=frozenset({Role.MARKETING})))
    register(Opportunity, Rule(account_path="account", owner_path="owner"))
    register(Activity, Rule(account_path="account", owner_path="owner"))
    register(Case, Rule(account_path="account", owner_path="owner",
                        role_read_all=frozenset({Role.SERVICE}),
                        role_change_all=frozenset({Role.SERVICE})))
    register(SalesDocument, Rule(account_path="account", owner_path="owner"))
    register(SalesDocumentLine, Rule(account_path="document__account", owner_path=None))
    register(Attachment, Rule(account_path="account", owner_path="uploaded_by"))
    # A request to make a prospect an ERP customer is seen with its account through the
    # scope, as the account's quotes are: not through the marketing and service extensions.
    register(PromotionRequest, Rule(account_path="account", owner_path=None))
    register(Product, Rule(account_path=None, owner_path=None, public_read=True))
    register(PriceList, Rule(account_path=None, owner_path=None, public_read=True))
    register(PriceListItem, Rule(account_path=None, owner_path=None, public_read=True))
