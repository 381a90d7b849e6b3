"""Ingredient names: one key per ingredient however it is typed, and near-miss suggestions."""

from __future__ import annotations

import pytest

from persona_api.pairing.names import ingredient_key, singular, suggestions


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Black Pepper", "black pepper"),
        ("black_pepper", "black pepper"),
        ("  BLACK-peppers ", "black pepper"),
        ("Tomatoes", "tomato"),
        ("strawberries", "strawberry"),
        ("peaches", "peach"),
        ("olive_oil", "olive oil"),
        ("asparagus", "asparagus"),
        ("swiss_cheese", "swiss cheese"),
        ("egg", "egg"),
    ],
)
def test_names_reduce_to_one_key(typed: str, key: str) -> None:
    assert ingredient_key(typed) == key


def test_a_name_without_letters_has_no_key() -> None:
    assert ingredient_key(" _- ") == ""


def test_singular_leaves_short_words_and_latin_endings_alone() -> None:
    assert singular("gas") == "gas"
    assert singular("citrus") == "citrus"
    assert singular("onions") == "onion"


def test_suggestions_offer_near_spellings_then_shared_words() -> None:
    known = ["tomato", "tomato juice", "potato", "black pepper", "bell pepper", "garlic"]
    assert suggestions(ingredient_key("tomatto"), known)[0] == "tomato"
    assert set(suggestions(ingredient_key("pepper"), known)) >= {"black pepper", "bell pepper"}
    assert suggestions(ingredient_key("zzz"), known) == []
