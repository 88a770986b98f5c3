"""What a request cost, from the genai-prices package (no hand-written price table).

Input, output, cache reads and cache writes are priced separately; genai-prices counts input
the way LiveToken does (cached tokens included). A model genai-prices does not know costs
``None``, never 0; a request that used no tokens costs 0. A cost computed from estimated tokens
is as estimated as they are: the record's ``tokens_estimated`` says so.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from metrics.record import Record

# Loading genai-prices and its price data takes about a second: never on the proxy's event loop.
ready = threading.Event()


def warm_up() -> threading.Event:
    """Load the price data in a background thread; ``ready`` is set when costs are cheap."""

    def load() -> None:
        try:
            _model_price("claude-sonnet-4-5", "anthropic")
        finally:
            ready.set()

    if not ready.is_set():
        threading.Thread(target=load, name="livetoken-prices", daemon=True).start()
    return ready


_PROVIDERS = {"anthropic": "anthropic", "openai": "openai"}


@functools.lru_cache(maxsize=512)
def _model_price(model: str, provider: str | None) -> Any:
    """The price card of a model, looked up once (the lookup is the slow part)."""
    from genai_prices import Usage, calc_price

    try:
        return calc_price(
            Usage(input_tokens=0, output_tokens=0), model_ref=model, provider_id=provider
        ).model_price
    except LookupError:
        if provider is None:
            return None
        return _model_price(model, None)  # e.g. an OpenRouter name on an OpenAI-compatible path


def cost_usd(record: Record) -> float | None:
    if record.input_tokens is None and record.output_tokens is None:
        return 0.0  # no tokens used (an error before any, count_tokens, a model list): nothing billed
    if not record.model:
        return None
    price = _model_price(record.model, _PROVIDERS.get(record.provider))
    if price is None:
        return None
    from genai_prices import Usage

    usage = Usage(
        input_tokens=record.input_tokens or 0,
        output_tokens=record.output_tokens or 0,
        cache_read_tokens=record.cache_read_tokens or 0,
        cache_write_tokens=record.cache_write_tokens or 0,
    )
    try:
        return float(price.calc_price(usage)["total_price"])
    except (ValueError, ArithmeticError):  # usage the price card cannot take (negative counts …)
        return None
