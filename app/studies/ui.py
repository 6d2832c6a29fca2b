"""Rater and admin pages as one Gradio Blocks factory: `build_eval_demo(session_factory=...)`.

Raters log in (or open a one-time invite link), read the instructions and answer one item
at a time with the mouse or the keyboard; a signed token kept in the browser resumes them
after a reload or on another day. Admins also see the study and results tabs.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr
from sqlalchemy.orm import Session, sessionmaker

from app.studies.service import EvalService
from app.studies.ui_admin import build_admin_tab
from app.studies.ui_screens import (
    CHOICES,
    Screen,
    criterion_label,
    heading_html,
    note_html,
    payload_html,
    progress_html,
    screen_for,
)
from storage import StorageError

MAX_CRITERIA = 6
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
        page = _layout(service, session_factory, engine)
        _wire(demo, service, page)
    return demo


@dataclass
class _Page:
    """The page's components: `views` (what a screen updates, in `_updates` order) and the inputs."""

    views: list[Any]
    name: gr.Textbox
    password: gr.Textbox
    login_button: gr.Button
    logout_button: gr.Button
    radios: list[gr.Radio]

    @property
    def token(self) -> gr.BrowserState:
        return self.views[0]

    @property
    def answer_inputs(self) -> list[Any]:
        """The rater's token, study, item, when it was shown, and the answers."""
        return [self.views[0], *self.views[6:9], *self.radios]

    @property
    def submit_button(self) -> gr.Button:
        return self.views[12]


def _layout(service: EvalService, session_factory: sessionmaker[Session], engine: Any) -> _Page:
    """The account bar, login, rater and admin views."""
    token = gr.BrowserState(None, storage_key="cntrl-eval-token")
    study, item_id, shown_at = gr.State(None), gr.State(None), gr.State(0.0)
    with gr.Row(visible=False, elem_id="account-bar") as account_bar:
        who = gr.HTML(elem_id="who")
        logout_button = gr.Button("Log out", size="sm", scale=0, elem_id="log-out")
    message = gr.HTML(elem_id="eval-message")
    with gr.Column(visible=True) as login_view:
        gr.Markdown("## Log in")
        name = gr.Textbox(label="Name", elem_id="login-name")
        password = gr.Textbox(label="Password", type="password", elem_id="login-password")
        login_button = gr.Button("Log in", variant="primary", elem_id="login-button")
    with gr.Column(visible=False) as rater_view:
        instructions = gr.HTML(elem_id="instructions")
        progress = gr.HTML(elem_id="progress")
        shown = gr.HTML(elem_id="item")
        radios = [gr.Radio(choices=[], label="", visible=False, elem_id=f"crit-{n}") for n in range(MAX_CRITERIA)]
        submit_button = gr.Button("Submit (Enter)", variant="primary", elem_id="submit-answer")
    with gr.Column(visible=False) as admin_view:
        build_admin_tab(service=service, token=token, session_factory=session_factory, engine=engine)
    views = [token, account_bar, who, login_view, rater_view, admin_view, study, item_id, shown_at,
             instructions, progress, shown, submit_button, *radios, message]
    return _Page(views, name, password, login_button, logout_button, radios)


def _wire(demo: gr.Blocks, service: EvalService, page: _Page) -> None:
    """The page's events: open (with an invite link), log in, submit an answer, log out."""
    views, name, password = page.views, page.name, page.password

    def show(current: str | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Route to login, the next item or the admin pages; open an invite link."""
        invite = dict(request.query_params).get("invite") if request else None
        if not invite:
            return _updates(screen_for(service, current))
        arrival = service.arrive(invite=invite, current=current)
        screen = screen_for(service, arrival.token, arrival.notice)
        if arrival.notice and screen.login:  # an invitee has no password: only the reason, no login form
            screen = Screen(note=arrival.notice, login=False)
        return _updates(screen)

    def log_in(user: str, secret_word: str, request: gr.Request) -> tuple[Any, ...]:
        client = request.client.host if request and request.client else None
        try:
            current = service.login(name=user, password=secret_word, client=client)
        except StorageError as error:
            return _updates(screen_for(service, None, str(error)))
        return _updates(screen_for(service, current))

    def submit_answer(current, study_id, item, started, *values) -> tuple[Any, ...]:
        """Record the answers to every question of the shown item, then show the next."""
        spent = int(1000 * (time.time() - (started or time.time())))
        try:
            answers = _answers(service, current, study_id, values)
            service.submit(current, item_id=item, answers=answers, time_spent_ms=spent)
        except StorageError as error:
            return _updates(screen_for(service, current, str(error), keep=True))
        return _updates(screen_for(service, current))

    demo.load(None, js=KEYS_JS)  # client-side only: the keyboard shortcuts
    demo.load(show, inputs=[page.token], outputs=views, api_name=False)
    page.login_button.click(log_in, [name, password], views, api_name="login")
    password.submit(log_in, [name, password], views, api_name=False)
    page.submit_button.click(submit_answer, page.answer_inputs, views, api_name="submit_answer")
    page.logout_button.click(lambda: _updates(Screen()), None, views, api_name=False)


def _answers(service: EvalService, token: str, study_id: int, values: tuple) -> dict[str, Any]:
    """Radio values by criterion; Likert answers become integers."""
    item = service.current_item(token, study_id=study_id) if study_id else None
    if item is None:
        return {}
    out: dict[str, Any] = {}
    for criterion, value in zip(item.criteria, values, strict=False):
        out[criterion] = int(value) if item.kind == "likert" and value else value
    return out


def _updates(screen: Screen) -> tuple[Any, ...]:
    """The screen as updates of `views`, in their order."""
    item = screen.item
    criteria = list(item.criteria[:MAX_CRITERIA]) if item else []
    radios = [
        gr.update(visible=True, label=criterion_label(c), choices=CHOICES[item.kind],
                  **({} if screen.keep else {"value": _shown_value(item, c)}))
        for c in criteria
    ] + [gr.update(visible=False, value=None) for _ in range(MAX_CRITERIA - len(criteria))]
    return (
        screen.token,
        gr.update(visible=bool(screen.who)),
        f"Logged in as <strong>{html.escape(screen.who)}</strong>" if screen.who else "",
        gr.update(visible=screen.login),
        gr.update(visible=screen.rater),
        gr.update(visible=screen.admin),
        screen.study_id,
        item.item_id if item else None,
        time.time() if item else 0.0,
        heading_html(screen),
        progress_html(screen.progress),
        payload_html(item.payload) if item else (f"<p>{html.escape(screen.body)}</p>" if screen.body else ""),
        gr.update(visible=item is not None),
        *radios,
        note_html(screen.note),
    )


def _shown_value(item: Any, criterion: str) -> str | None:
    value = item.answers.get(criterion)
    return None if value is None else str(value)
