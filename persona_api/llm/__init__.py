"""LLM integration: an OpenAI-compatible chat client (httpx), value profiles, system messages.

The client's public API is re-exported here; its errors are documented in ``persona_api.errors``
and in :mod:`persona_api.llm.client`.
"""

from persona_api.llm.client import LLMClient, LLMConfig, Message, config_from_settings
from persona_api.llm.protocol import Chunk, Completion, Usage

__all__ = ["Chunk", "Completion", "LLMClient", "LLMConfig", "Message", "Usage", "config_from_settings"]
