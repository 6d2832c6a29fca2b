"""8 threads x 200 writes at once: every row arrives and no lock error reaches a caller."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from storage import (
    Node,
    Rating,
    add_items,
    append_node,
    assign_items,
    create_story,
    create_study,
    create_user,
    load_story,
    submit_rating,
)

THREADS = 8
WRITES = 200


def _setup(factory):
    """One shared story for the writer threads; 200 items assigned to each rater thread."""
    with factory.begin() as session:
        writer = create_user(session, name="writer").id
        story = create_story(session, user_id=writer, title="Busy").id
        raters = [
            create_user(session, name=f"rater{i}", role="rater").id for i in range(THREADS // 2)
        ]
        study = create_study(
            session, name="Load", kind="likert", criteria=["fluency"], overlap_k=len(raters)
        )
        items = add_items(
            session, study_id=study.id, items=[{"payload": {"n": i}} for i in range(WRITES)]
        )
        assign_items(session, study_id=study.id, rater_ids=raters, seed=0)
        return writer, story, raters, [item.id for item in items]


def test_eight_threads_of_writers_lose_nothing(factory):
    writer, story, raters, items = _setup(factory)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def write_nodes(thread: int) -> None:
        start.wait()
        for n in range(WRITES):
            with factory.begin() as session:
                append_node(
                    session, user_id=writer, story_id=story, text=f"Thread {thread} sentence {n}."
                )

    def write_ratings(rater: int) -> None:
        start.wait()
        for n, item in enumerate(items):
            with factory.begin() as session:
                submit_rating(
                    session,
                    rater_id=rater,
                    item_id=item,
                    criterion="fluency",
                    value=1 + n % 5,
                    time_spent_ms=n,
                )

    def guarded(target, arg) -> None:
        try:
            target(arg)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    jobs = [(write_nodes, t) for t in range(THREADS // 2)] + [(write_ratings, r) for r in raters]
    threads = [threading.Thread(target=guarded, args=job) for job in jobs]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began

    assert errors == [], [str(e) for e in errors[:3]]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Node)) == THREADS // 2 * WRITES
        assert session.scalar(select(func.count()).select_from(Rating)) == len(raters) * WRITES
        view = load_story(session, user_id=writer, story_id=story)
        # Every append saw the previous head: one unbroken chain, no lost update.
        assert len(view.nodes) == THREADS // 2 * WRITES
        assert [n.position for n in view.nodes] == list(range(len(view.nodes)))
        for rater in raters:
            values = dict(
                session.execute(
                    select(Rating.item_id, Rating.value).where(Rating.rater_id == rater)
                ).all()
            )
            assert values == {item: 1 + n % 5 for n, item in enumerate(items)}
    rate = THREADS * WRITES / elapsed
    print(
        f"\n{factory.kw['bind'].dialect.name}: {THREADS * WRITES} writes in {elapsed:.2f} s = {rate:.0f} writes/s"
    )
