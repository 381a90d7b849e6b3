"""Webhooks: tenants' endpoints (:mod:`.service`), the signature (:mod:`.signing`) and the sender
that delivers the outbox (:mod:`.sender`, run by ``persona-api webhooks``).

The events themselves are written by the changes they describe, through
:func:`persona_api.store.outbox.emit`, in the same transaction.
"""
