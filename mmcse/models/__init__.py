"""MM-CSE, HAN and VALOR models."""
