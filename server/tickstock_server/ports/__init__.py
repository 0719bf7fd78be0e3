"""Protocols between layers, one module per area: what the application core needs from the outside world.

Every port has an in-memory fake in `adapters/memory/` and a contract suite the fake and the real adapter
both pass. Ports import only `domain`.
"""
