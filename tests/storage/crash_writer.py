"""A writer process for the crash test: commits sentences, then dies inside a transaction.

Usage: python crash_writer.py URL USER_ID STORY_ID MODE
MODE "pending": commit 40 sentences, then write 3 MB more in one open
transaction (more than SQLite's page cache, so it spills into the WAL), print PENDING and wait to be killed.
MODE "loop": commit batches of 20 sentences until killed.
Each committed node id is printed on its own line as "COMMITTED <id>".
"""

from __future__ import annotations

import sys
import time

from storage import append_node, make_engine, make_sessionmaker


def main(url: str, user_id: int, story_id: int, mode: str) -> None:
    factory = make_sessionmaker(make_engine(url))
    batch = 0
    while mode == "loop" or batch < 40:
        with factory.begin() as session:
            nodes = [
                append_node(
                    session, user_id=user_id, story_id=story_id, text=f"Committed {batch}-{i}."
                )
                for i in range(20 if mode == "loop" else 1)
            ]
        print(*(f"COMMITTED {n.id}" for n in nodes), sep="\n", flush=True)
        batch += 1
    session = factory()
    session.begin()
    for i in range(300):
        append_node(
            session, user_id=user_id, story_id=story_id, text=f"Pending {i}. " + "x" * 10_000
        )
    session.flush()
    print("PENDING", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
