"""System-message rendering and chat orchestration over memory, values, preferences and the LLM client."""
