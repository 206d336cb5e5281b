"""Comptoir push: sends party and customer invoice changes to Comptoir's push API."""
