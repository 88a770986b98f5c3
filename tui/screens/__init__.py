"""Screens pushed over the live table: request detail and per-model totals."""
