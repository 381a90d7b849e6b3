"""The MCP server: persona-api's memory, recommendations, pairings, preferences and system message
as Model Context Protocol tools, at ``/mcp`` (streamable HTTP) and over stdio (``persona-api mcp``).

A thin adapter: the tools call the HTTP API (see :mod:`.api`), so they hold no domain logic.
"""
