"""Connectors: one module per kind of system, each registering its class with ``@register``.

Like the engine they are plain Python (no Django, no domain app), so they test alone.
"""
