"""Exports: timelines (JSON, CSV, HTML, PDF), per-customer reports, the deadlines calendar and the breach register.

A read model across domains, like flows: it may import every domain and no domain imports it.
"""
