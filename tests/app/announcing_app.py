"""`python -m app --fake-engine` whose scripted sentences stream slowly and announce each chunk.

Run from the repository root as `python -m tests.app.announcing_app CHUNK_DELAY_S [app flags]`.
Every streamed chunk is printed as `CHUNK <sentence index> <text>` before the page receives it,
so a test can kill the process at a known point in the middle of a sentence.
"""

from __future__ import annotations

import sys

import app.cli
from app.fake_engine import FakeEngine


class AnnouncingEngine(FakeEngine):
    def stream_step(self, context, **kwargs):
        for item in super().stream_step(context, **kwargs):
            if isinstance(item, str):
                print(f"CHUNK {len(context.sentences) + 1} {item}", flush=True)
            yield item


def main() -> int:
    delay = float(sys.argv[1])
    app.cli.engine_for = lambda args: AnnouncingEngine(chunk_delay_s=delay)
    return app.cli.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
