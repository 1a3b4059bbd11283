"""The booth's web UI: Jinja templates and plain JS/CSS served by the API (no build step)."""
