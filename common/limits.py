"""Limits that more than one layer enforces, so that each has one owner."""

MAX_KEYWORD_LIST = 64  # keywords one list may hold: the engine clips a longer list, storage refuses one
