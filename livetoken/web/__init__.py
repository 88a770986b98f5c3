"""The web panel: the live table, summary and charts in a browser, fed by the proxy's feed."""

DEFAULT_WEB_PORT = 7358
