"""Ingredient pairing: complete a recipe, flavor-compound neighbours and pair compatibility."""
