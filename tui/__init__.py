"""livetoken-tui: the Textual dashboard over the LiveToken feed (it imports metrics, never mitmproxy)."""
