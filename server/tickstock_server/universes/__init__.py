"""Symbols, universes and watchlists: the rules over their stores (the catalog and each user's lists)."""
