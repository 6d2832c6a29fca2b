"""Antonyms for the swapped-keyword system: the engine's table (one owner for the rule)."""

from engine.evaluation.antonyms import AntonymTable

__all__ = ["AntonymTable"]
