"""Logboek Dataverwerkingen (LDV): chain partners, the read API, register links and checks.

Records arrive through the collectors (`collectors.otlp`, the `ldv` parser) and are stored as
ECS events; this domain answers questions about them. See docs/ldv.md.
"""
