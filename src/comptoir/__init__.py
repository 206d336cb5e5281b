"""Comptoir: a self-hosted CRM that speaks ERP."""

__version__ = "0.1.0"
