"""The demo data set behind ``comptoir demo``: a French B2B sales organisation and its data.

``load_demo`` is the entry point; ``org`` builds users, territories, pipeline and catalogue,
``generator`` streams accounts and everything attached to them in bulk, ``data`` holds the
reference lists (cities, names, NAF codes, products).
"""

from .generator import DemoResult, load_demo
from .org import DEMO_PASSWORD, DEMO_USERS

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "DemoResult", "load_demo"]
