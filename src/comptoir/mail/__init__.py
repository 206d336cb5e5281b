"""Outgoing e-mail: messages composed from a record (templates, signatures, attachments),
queued and sent by the worker through the company's SMTP relay, logged on the record."""
