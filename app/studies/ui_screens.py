"""What the evaluation page shows after each action, as one typed record (`Screen`).

`screen_for` decides it (login, a plain notice, the next item, a thank-you page, the admin
tabs); `ui.py` turns it into Gradio updates. Every text a rater reads (stories, premise,
keywords, instructions, messages) is escaped HTML shown with its line breaks: the page shows
exactly the stored text, never Markdown or HTML made from it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from app.studies.service import EvalService
from storage import CONTROL_ANSWERS, LIKERT_RANGE, PAIRWISE_ANSWERS, RaterItem, StorageError

ANSWER_LABELS = {"tie": "tie", "both_bad": "both bad"}
CHOICES = {  # the answers storage accepts, as (label, value) pairs for the page's radios
    "likert": [(str(v), str(v)) for v in LIKERT_RANGE],
    "pairwise": [(ANSWER_LABELS.get(a, a), a) for a in PAIRWISE_ANSWERS],
    "control": [(a, a) for a in CONTROL_ANSWERS],
}
KEY_HELP = {
    "likert": "Keys: 1-5 answer the next question, Enter submits.",
    "pairwise": "Keys: A, B, T (tie), X (both bad) answer the next question, Enter submits.",
    "control": "Keys: Y (yes), N (no) answer the next question, Enter submits.",
}
VERBATIM = "white-space: pre-wrap; overflow-wrap: anywhere"


@dataclass(frozen=True)
class Screen:
    """Everything the page shows after one action.

    Attributes:
        token: The identity token to keep in the browser (`None`: logged out).
        who: Name and role of whoever is logged in ("" for nobody).
        login: Show the login form.
        rater: Show the rater column (an item, or a thank-you or nothing-to-rate page).
        admin: Show the admin tabs.
        study_id: The study of the shown item (or of the finished work).
        item: The item to answer, if any: its questions and the Submit button show only with one.
        heading: Text above the item (the instructions, or "Thank you!").
        progress: (done, total) of the rater's items, when there are any.
        body: Text in place of an item (what to do next), when there is no item.
        note: A message above everything (an error, or why an invite link cannot be used).
        keep: Keep the answers already picked (after a refused submission).
    """

    token: str | None = None
    who: str = ""
    login: bool = True
    rater: bool = False
    admin: bool = False
    study_id: int | None = None
    item: RaterItem | None = None
    heading: str = ""
    progress: tuple[int, int] | None = None
    body: str = ""
    note: str = ""
    keep: bool = False


def screen_for(service: EvalService, token: str | None, note: str = "", *, keep: bool = False) -> Screen:
    """The screen for whoever `token` proves (or the login form), with `note` above it."""
    if not token:
        return Screen(note=note)
    try:
        who = service.identify(token)
        studies = service.my_studies(token)
    except StorageError as error:
        return Screen(note=str(error))
    base: dict[str, Any] = {"token": token, "who": f"{who.name} ({who.role})", "login": False,
                            "admin": who.role == "admin", "note": note, "keep": keep}
    if not studies:
        if who.role == "admin":
            return Screen(**base)
        return Screen(**base, rater=True, heading="Nothing to rate",
                      body="You have no items to rate. If the study's admin sent you an invite link, open it.")
    closed, item, study_id = "", None, studies[0][0]
    for candidate, _ in studies:  # the first study with work left
        try:
            item = service.current_item(token, study_id=candidate)
        except StorageError as error:  # a closed study
            closed = closed or str(error)
            continue
        if item is not None:
            study_id = candidate
            break
    if item is not None:
        return Screen(**base, rater=True, study_id=study_id, item=item,
                      heading=service.instructions(token, study_id=study_id), progress=(item.done, item.total))
    if closed:
        return Screen(**base, rater=True, heading="Thank you!", body=closed[:1].upper() + closed[1:] + ".")
    done, total = service.progress(token, study_id=study_id)
    more = "" if who.role == "admin" else " There is nothing more to do: you can close this page."
    return Screen(**base, rater=True, study_id=study_id, heading="Thank you!", progress=(done, total),
                  body=f"You have rated all {total} of your items; your answers are saved.{more}")


def verbatim(text: Any, *, elem_id: str = "") -> str:
    """`text` escaped, in a block that keeps its spaces and line breaks."""
    ident = f' id="{elem_id}"' if elem_id else ""
    return f'<div{ident} class="verbatim" style="{VERBATIM}">{html.escape(str(text))}</div>'


def payload_html(payload: dict[str, Any]) -> str:
    """What a rater reads: premise, story or stories A/B, and target keywords, each exactly as stored."""
    parts = [("Opening", "premise", payload.get("premise", ""))]
    if "story_a" in payload:
        parts += [("Story A", "story-a", payload["story_a"]), ("Story B", "story-b", payload["story_b"])]
    else:
        parts.append(("Story", "story", payload.get("story", "")))
    if payload.get("keywords"):
        parts.append(("Target keywords", "keywords", ", ".join(map(str, payload["keywords"]))))
    return "".join(f'<div class="item-part"><strong>{label}</strong>{verbatim(text, elem_id=f"item-{key}")}</div>'
                   for label, key, text in parts)


def heading_html(screen: Screen) -> str:
    """The instructions (escaped, as the admin wrote them) and the keys, or a heading such as "Thank you!"."""
    if screen.item is None:
        return f"<h2>{html.escape(screen.heading)}</h2>" if screen.heading else ""
    return verbatim(screen.heading) + f"<p><em>{html.escape(KEY_HELP[screen.item.kind])}</em></p>"


def progress_html(progress: tuple[int, int] | None) -> str:
    if progress is None:
        return ""
    done, total = progress
    return (f'<div id="progress-text">{done} of {total} done</div>'
            f'<progress value="{done}" max="{total}" style="width:100%"></progress>')


def note_html(note: str) -> str:
    """A message above the page, escaped."""
    return verbatim(note, elem_id="eval-note") if note else ""


def criterion_label(criterion: str) -> str:
    return criterion.replace("_", " ").capitalize()
