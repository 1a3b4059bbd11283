"""Delivery: link tokens, byte-range serving, the rendition email and the mailers."""
