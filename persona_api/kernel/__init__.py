"""Shared machinery no domain owns: the embedder and vector codecs, versioned artifacts with their
manifest, store and hot swap, and the re-index step protocol."""
