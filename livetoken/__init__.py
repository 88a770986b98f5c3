"""The ``livetoken`` command: the top floor, using ``metrics`` (and later ``tui``)."""
