"""The REST API toolkit: one way to build schemas, filters, pagination, errors and CRUD routes.

Each domain app's ``api.py`` declares its resources with this kit; ``config.api`` mounts them.
"""
