"""Per-project limits on accelerators held, and their enforcement.

``resource_classes`` says which class each ARQ of a request counts
against; ``limits`` (the ``config`` driver) and ``unified_limits``
(Keystone, through oslo.limit) say what a project may hold;
``enforcement`` compares usage plus a request with those limits. The
counting and the serialisation of a project's creates are database work:
``cyborg.db.quota_locks`` and ``cyborg.db.arq_states``.
"""
