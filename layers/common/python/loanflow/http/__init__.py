"""The HTTP API: one powertools Router per area, composed by ``functions/api/app.py``."""
