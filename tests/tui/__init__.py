"""Tests of livetoken-tui, the Textual dashboard."""
