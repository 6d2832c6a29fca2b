"""Rules every layer shares: where the product keeps its files, how an error reads in one line.

The lowest layer: `common` imports nothing of `engine`, `storage` or `app`, and each of them
may import it (docs/README.md has the map).
"""
