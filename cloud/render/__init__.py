"""Rendering: a visitor performing a reference dance, as a marked, tagged MP4."""
