"""Health: the mailbox canary and silence alarm (``monitor``), the verdict ``dsrbot status``
and ``/healthz`` share (``report``), and Prometheus ``/metrics`` (``metrics``, ``http``).

Kept in its own package so a web desk (``bot/web/``) can live beside it untouched.
"""
