"""`python -m app --fake-engine` whose scripted sentences stream slowly and announce each chunk.

Run from the repository root as `python -m tests.app.announcing_app CHUNK_DELAY_S [app flags]`;
`CHUNK_DELAY_S` may list a delay per sentence (`0.05,3`: sentence 1 at 0.05 s a chunk, every later
one at 3 s). Every streamed chunk is printed as `CHUNK <sentence index> <text>` before the page receives it,
so a test can kill the process at a known point in the middle of a sentence.
"""

from __future__ import annotations

import sys

import app.cli
from app.fake_engine import FakeEngine


class AnnouncingEngine(FakeEngine):
    delays: tuple[float, ...] = ()

    def stream_step(self, context, **kwargs):
        if self.delays:
            self.chunk_delay_s = self.delays[min(len(context.sentences), len(self.delays) - 1)]
        for item in super().stream_step(context, **kwargs):
            if isinstance(item, str):
                print(f"CHUNK {len(context.sentences) + 1} {item}", flush=True)
            yield item


def main() -> int:
    delays = tuple(float(d) for d in sys.argv[1].split(","))
    engine = AnnouncingEngine(chunk_delay_s=delays[0])
    engine.delays = delays
    app.cli.engine_for = lambda args: engine
    return app.cli.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
