"""The sync engine core: plain Python, no Django, so connectors and mappings test alone.

``core`` holds the protocols (Record, Stream, Connector) and the registry, ``errors`` the
categorised errors, ``mapping`` the declarative mappings, ``files`` the extract readers.
"""
