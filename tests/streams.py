"""Small hand-written streams with the same shapes as the recorded fixtures (see ../shared)."""

from __future__ import annotations

ANTHROPIC_THINKING_TOOL = b"""event: message_start
data: {"type":"message_start","message":{"model":"claude-sonnet-4-20250514","id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":424,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}}       }

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\": \\"Florence\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":424,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":119}}

event: message_stop
data: {"type":"message_stop"}

"""

ANTHROPIC_CACHE_NO_TRAILING_NEWLINE = b"""event: message_start
data: {"type":"message_start","message":{"model":"claude-haiku-4-5-20251001","usage":{"input_tokens":8,"cache_creation_input_tokens":10415,"cache_read_input_tokens":0,"output_tokens":1}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location"}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":329}}

event: message_stop
data: {"type":"message_stop"}"""

ANTHROPIC_ERROR_EVENT = b"""event: message_start
data: {"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":3,"output_tokens":1}}}

event: error
data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

"""

OPENAI_CHAT_REASONING_USAGE = b"""data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-5-2025-08-07","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-5-2025-08-07","choices":[{"index":0,"delta":{"content":"Ol\xc3\xa1"},"finish_reason":null}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-5-2025-08-07","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-5-2025-08-07","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-5-2025-08-07","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":75,"total_tokens":94,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":64}}}

data: [DONE]

"""

OPENAI_CHAT_TOOL_CALLS = b"""data: {"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"add","arguments":""}}]},"finish_reason":null}]}

data: {"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"multiply","arguments":""}}]},"finish_reason":null}]}

data: {"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"a\\":2,\\"b\\":3}"}}]},"finish_reason":null}]}

data: {"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\\"a\\":4,\\"b\\":5}"}}]},"finish_reason":null}]}

data: {"model":"gpt-4.1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: {"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":106,"completion_tokens":50,"total_tokens":156}}

data: [DONE]

"""

OPENROUTER_COMMENT_USAGE_IN_CHOICE = b""": OPENROUTER PROCESSING

data: {"model":"anthropic/claude-4.5-haiku","choices":[{"index":0,"delta":{"content":"Ol\xc3\xa1! ","role":"assistant"},"finish_reason":null}]}

data: {"model":"anthropic/claude-4.5-haiku","choices":[{"index":0,"delta":{"content":"\xf0\x9f\x91\x8b","role":"assistant"},"finish_reason":null}]}

data: {"model":"anthropic/claude-4.5-haiku","choices":[{"index":0,"delta":{"content":"","role":"assistant"},"finish_reason":"stop"}],"usage":{"prompt_tokens":16,"completion_tokens":18,"total_tokens":34}}

data: [DONE]

"""

OPENAI_CHAT_NO_USAGE = b"""data: {"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}

data: {"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"The quick brown fox"},"finish_reason":null}]}

data: {"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" jumps over the lazy dog."},"finish_reason":null}]}

data: {"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: [DONE]

"""

OPENAI_RESPONSES_USAGE = b"""event: response.created
data: {"type":"response.created","response":{"id":"resp_1","status":"in_progress","model":"gpt-5-2025-08-07","usage":null},"sequence_number":0}

event: response.output_text.delta
data: {"type":"response.output_text.delta","delta":"Ol\xc3\xa1","sequence_number":1}

event: response.output_text.delta
data: {"type":"response.output_text.delta","delta":"!","sequence_number":2}

event: response.completed
data: {"type":"response.completed","response":{"id":"resp_1","status":"completed","model":"gpt-5-2025-08-07","usage":{"input_tokens":19,"input_tokens_details":{"cached_tokens":0},"output_tokens":118,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":137}},"sequence_number":3}

"""

OPENAI_RESPONSES_FAILED = b"""event: response.created
data: {"type":"response.created","response":{"status":"in_progress","model":"gpt-5"}}

event: response.failed
data: {"type":"response.failed","response":{"status":"failed","model":"gpt-5","error":{"code":"server_error","message":"boom"},"usage":null}}

"""
