"""LiveToken's pure core: SSE decoding, provider interpreters, tracker, records and feed.

Nothing here imports mitmproxy or textual; every piece can be driven with bytes alone.
"""
