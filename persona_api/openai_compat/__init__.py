"""The OpenAI-compatible endpoint: ``POST /v1/chat/completions`` and ``GET /v1/models`` over the
chat service (:mod:`.routes`), with OpenAI's error objects instead of problem documents
(:mod:`.errors`). A thin adapter: the personalization is the chat service's.
"""
