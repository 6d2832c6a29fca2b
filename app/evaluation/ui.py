"""Rater and admin pages as one Gradio Blocks factory: `build_eval_demo(session_factory=...)`.

Raters log in (or open a one-time invite link), read the instructions and answer one item
at a time with the mouse or the keyboard; a signed token kept in the browser resumes them
after a reload or on another day. Admins also see the study and results tabs.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
from sqlalchemy.orm import Session, sessionmaker

from app.evaluation.service import EvalService
from app.evaluation.ui_admin import build_admin_tab
from storage import CONTROL_ANSWERS, LIKERT_RANGE, PAIRWISE_ANSWERS, StorageError

MAX_CRITERIA = 6
CHOICES = {  # the answers storage accepts, as the page's radio labels
    "likert": [str(v) for v in LIKERT_RANGE],
    "pairwise": list(PAIRWISE_ANSWERS),
    "control": list(CONTROL_ANSWERS),
}
KEY_HELP = {
    "likert": "Keys: 1-5 answer the next question, Enter submits.",
    "pairwise": "Keys: A, B, T (tie), X (both bad) answer the next question, Enter submits.",
    "control": "Keys: Y (yes), N (no) answer the next question, Enter submits.",
}
# Keyboard shortcuts: a key picks that answer in the first unanswered question; Enter submits.
KEYS_JS = """
() => {
  if (window.__cntrlEvalKeys) return; window.__cntrlEvalKeys = true;
  const map = {"1":"1","2":"2","3":"3","4":"4","5":"5","a":"A","b":"B","t":"tie","x":"both_bad","y":"yes","n":"no"};
  document.addEventListener("keydown", (e) => {
    const tag = (e.target.tagName || "").toLowerCase();
    if (tag === "textarea" || (tag === "input" && e.target.type !== "radio")) return;
    const groups = [...document.querySelectorAll("[id^=crit-]")].filter(g => g.offsetParent !== null);
    if (e.key === "Enter") { document.querySelector("#submit-answer")?.click(); e.preventDefault(); return; }
    const value = map[e.key.toLowerCase()];
    if (!value) return;
    const open = groups.find(g => !g.querySelector("input:checked")) || groups[groups.length - 1];
    const input = open && [...open.querySelectorAll("input")].find(i => i.value === value);
    if (input) { input.click(); e.preventDefault(); }
  });
}
"""


def build_eval_demo(
    *, session_factory: sessionmaker[Session], secret: bytes = b"", engine: Any = None
) -> gr.Blocks:
    """The evaluation pages; nothing is loaded or launched here.

    Args:
        session_factory: `storage.make_sessionmaker(engine)` for the study database.
        secret: Key that signs rater tokens; random per process by default (tokens then
            last until the server restarts).
        engine: The app's engine (a Pipeline, FakeEngine or `EngineHandle`) when the pages
            run inside the app: Create study writes with it instead of loading that model
            a second time. `None` (a separate `serve`): the model asked for is loaded.

    Returns:
        Blocks to `.launch()` or mount into the main app.
    """
    service = EvalService(factory=session_factory, secret=secret)
    with gr.Blocks(title="CNTRL Studio evaluation") as demo:
        token = gr.BrowserState(None, storage_key="cntrl-eval-token")
        study = gr.State(None)
        item_id = gr.State(None)
        shown_at = gr.State(0.0)
        message = gr.Markdown(elem_id="eval-message")
        with gr.Column(visible=True) as login_view:
            gr.Markdown("## Log in to rate stories")
            name = gr.Textbox(label="Name", elem_id="login-name")
            password = gr.Textbox(label="Password", type="password", elem_id="login-password")
            login_button = gr.Button("Log in", variant="primary", elem_id="login-button")
        with gr.Column(visible=False) as rater_view:
            instructions = gr.Markdown(elem_id="instructions")
            progress = gr.HTML(elem_id="progress")
            shown = gr.Markdown(elem_id="item")
            radios = [
                gr.Radio(choices=[], label="", visible=False, elem_id=f"crit-{n}")
                for n in range(MAX_CRITERIA)
            ]
            submit_button = gr.Button("Submit (Enter)", variant="primary", elem_id="submit-answer")
            logout_button = gr.Button("Log out", size="sm")
        with gr.Column(visible=False) as admin_view:
            build_admin_tab(service=service, token=token, session_factory=session_factory, engine=engine)

        views = [
            login_view,
            rater_view,
            admin_view,
            study,
            item_id,
            shown_at,
            instructions,
            progress,
            shown,
            *radios,
            message,
        ]

        def show(current: str | None, request: gr.Request | None = None) -> tuple[Any, ...]:
            """Route to login, the next item or the admin pages; redeem an invite link."""
            invite = dict(request.query_params).get("invite") if request else None
            note = ""
            if invite:
                try:
                    current, _ = service.redeem(invite=invite, current=current)
                except StorageError as error:
                    note = f"**{error}**"
            return (current, *_render(service, current, note))

        def log_in(user: str, secret_word: str, request: gr.Request) -> tuple[Any, ...]:
            client = request.client.host if request and request.client else None
            try:
                current = service.login(name=user, password=secret_word, client=client)
            except StorageError as error:
                return (None, *_render(service, None, f"**{error}**"))
            return (current, *_render(service, current, ""))

        def submit_answer(current, study_id, item, started, *values) -> tuple[Any, ...]:
            """Record the answers to every question of the shown item, then show the next."""
            answers = _answers(service, current, study_id, values)
            spent = int(1000 * (time.time() - (started or time.time())))
            try:
                service.submit(current, item_id=item, answers=answers, time_spent_ms=spent)
            except StorageError as error:
                return (current, *_render(service, current, f"**{error}**", keep=True))
            return (current, *_render(service, current, ""))

        demo.load(None, js=KEYS_JS)  # client-side only: the keyboard shortcuts
        demo.load(show, inputs=[token], outputs=[token, *views], api_name=False)
        login_button.click(log_in, [name, password], [token, *views], api_name="login")
        password.submit(log_in, [name, password], [token, *views], api_name=False)
        submit_button.click(
            submit_answer,
            [token, study, item_id, shown_at, *radios],
            [token, *views],
            api_name="submit_answer",
        )
        logout_button.click(
            lambda: (None, *_render(service, None, "")), None, [token, *views], api_name=False
        )
    return demo


def _answers(service: EvalService, token: str, study_id: int, values: tuple) -> dict[str, Any]:
    """Radio values by criterion; Likert answers become integers."""
    item = service.current_item(token, study_id=study_id) if study_id else None
    if item is None:
        return {}
    out: dict[str, Any] = {}
    for criterion, value in zip(item.criteria, values, strict=False):
        out[criterion] = int(value) if item.kind == "likert" and value else value
    return out


def _render(
    service: EvalService, token: str | None, note: str, keep: bool = False
) -> tuple[Any, ...]:
    """Updates for every view: which column shows, the item, its questions and a message."""
    hidden_radios = [gr.update(visible=False, value=None) for _ in range(MAX_CRITERIA)]
    blank = (
        gr.update(visible=True),
        gr.update(visible=False),
        gr.update(visible=False),
        None,
        None,
        0.0,
        "",
        "",
        "",
        *hidden_radios,
        note,
    )
    if not token:
        return blank
    try:
        who = service.identify(token)
        studies = service.my_studies(token)
    except StorageError as error:
        return (*blank[:-1], f"**{error}**")
    is_admin = who.role == "admin"
    if not studies:
        text = "Nothing to rate." if not is_admin else ""
        return (
            gr.update(visible=False),
            gr.update(visible=not is_admin),
            gr.update(visible=is_admin),
            None,
            None,
            0.0,
            text,
            "",
            "",
            *hidden_radios,
            note,
        )
    views = (gr.update(visible=False), gr.update(visible=True), gr.update(visible=is_admin))
    study_id, item, closed = studies[0][0], None, ""
    for candidate, _ in studies:  # the first study with work left
        try:
            item = service.current_item(token, study_id=candidate)
        except StorageError as error:  # a closed study
            closed = closed or str(error)
            continue
        if item is not None:
            study_id = candidate
            break
    if item is None and closed:
        return (*views, None, None, 0.0, "## Thank you!", "", closed.capitalize() + ".",
                *hidden_radios, note)
    if item is None:
        return (
            *views,
            study_id,
            None,
            0.0,
            "## Thank you!",
            _bar(1, 1),
            "You have rated every item.",
            *hidden_radios,
            note,
        )
    text = service.instructions(token, study_id=study_id)
    radios = [
        gr.update(
            visible=True,
            label=criterion.replace("_", " ").capitalize(),
            choices=CHOICES[item.kind],
            **({} if keep else {"value": _shown_value(item, criterion)}),
        )
        for criterion in item.criteria[:MAX_CRITERIA]
    ]
    radios += hidden_radios[len(radios) :]
    return (
        *views,
        study_id,
        item.item_id,
        time.time(),
        f"{text}\n\n*{KEY_HELP[item.kind]}*",
        _bar(item.done, item.total),
        _payload_markdown(item.payload),
        *radios,
        note,
    )


def _shown_value(item: Any, criterion: str) -> str | None:
    value = item.answers.get(criterion)
    return None if value is None else str(value)


def _bar(done: int, total: int) -> str:
    return (
        f'<div id="progress-text">{done} of {total} done</div>'
        f'<progress value="{done}" max="{total}" style="width:100%"></progress>'
    )


def _payload_markdown(payload: dict[str, Any]) -> str:
    """What a rater reads: premise, story or stories A/B, and target keywords."""
    parts = [f"**Opening:** {payload.get('premise', '')}"]
    if "story_a" in payload:
        parts += [f"**Story A:** {payload['story_a']}", f"**Story B:** {payload['story_b']}"]
    else:
        parts.append(f"**Story:** {payload.get('story', '')}")
    if payload.get("keywords"):
        parts.append(f"**Target keywords:** {', '.join(payload['keywords'])}")
    return "\n\n".join(parts)
