"""Admin tabs of the evaluation pages: create a study, invite raters, results and exports."""

from __future__ import annotations

import tempfile
from typing import Any

import gradio as gr
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from app.errors import AppError
from app.studies.create import (
    DEFAULT_PREMISES,
    Generation,
    StudySettings,
    describe_provenance,
    engine_names,
    make_study,
    reusable,
)
from app.studies.invites import issue_invites
from app.studies.report import report_tables
from app.studies.results import QualityRules, write_exports
from app.studies.service import EvalService
from app.studies.status import format_status
from app.studies.studies import StudySpec
from app.studies.systems import SYSTEM_NAMES
from storage import STUDY_KINDS, StorageError, run_in_transaction, study_ratings

TABLES = ("systems", "quality", "means", "win_rates", "bradley_terry", "agreement")
FORCE_HINT = "tick “Invite even if the study is full” to make them anyway"


def build_admin_tab(
    *, service: EvalService, token: gr.BrowserState, session_factory: sessionmaker[Session], engine: Any = None
) -> None:
    """Render the admin tabs inside the current Blocks; every handler checks the admin role.

    `engine` is the app's already loaded engine (or its `EngineHandle`), if any: a study
    asked to write with that model uses it instead of loading a second copy.
    """
    with gr.Tabs():
        with gr.Tab("Results", elem_id="results-tab"):
            _results_tab(service, token, session_factory)
        with gr.Tab("Study status", elem_id="status-tab"):
            _status_tab(service, token)
        with gr.Tab("Create study"):
            _create_tab(service, token, engine)
        with gr.Tab("Invite raters"):
            _invite_tab(service, token)


def _results_tab(service: EvalService, token: gr.BrowserState, session_factory: sessionmaker[Session]) -> None:
    """Tables, a plot and export files of one study (the `results` API name)."""
    with gr.Row():
        study_id = gr.Number(label="Study id", value=1, precision=0, elem_id="results-study")
        accuracy = gr.Slider(0, 1, value=0.8, step=0.05, label="Min. attention-check accuracy")
        seconds = gr.Number(label="Min. median seconds per item", value=0, elem_id="results-seconds")
        exclude = gr.Checkbox(label="Exclude flagged raters", elem_id="results-exclude")
    show_button = gr.Button("Show results", variant="primary", elem_id="show-results")
    status = gr.Markdown(elem_id="results-note")
    plot = gr.BarPlot(x="label", y="value", color="criterion", label="Scores by system",
                      elem_id="results-plot", visible=False)
    frames = [gr.Dataframe(elem_id=f"results-{name}", visible=False, wrap=True) for name in TABLES]
    files = gr.Files(label="Exports: summary (with each system's provenance) and raw ratings, CSV and JSONL",
                     elem_id="results-files", visible=False)

    def show_results(current, study, min_accuracy, min_seconds, drop) -> tuple[Any, ...]:
        """Tables, a plot and export files of one study, for admins only."""
        rules = QualityRules(min_check_accuracy=float(min_accuracy), min_seconds_per_item=float(min_seconds or 0),
                             exclude_flagged=bool(drop))
        hidden = [gr.update(visible=False)] * (len(TABLES) + 2)
        try:
            results = service.results(current, study_id=int(study), rules=rules)
            records = run_in_transaction(session_factory, lambda s: study_ratings(s, study_id=int(study)))
        except (StorageError, ValueError, TypeError) as error:
            return (f"**{error}**", *hidden)
        shown = {t.name: t for t in report_tables(results)}
        excluded = [q.name for q in results.quality if q.rater_id in results.excluded]
        note = f"Excluded raters: {', '.join(excluded)}." if excluded else "No rater excluded."
        folder = tempfile.mkdtemp(prefix=f"study-{results.study_id}-")
        exports = write_exports(folder, study_id=results.study_id, results=results, records=records)
        return (
            note,
            gr.update(value=_plot_frame(results.kind, results.tables()), visible=True),
            *[_frame(shown.get(name)) for name in TABLES],
            gr.update(value=[str(p) for p in exports], visible=True),
        )

    show_button.click(show_results, [token, study_id, accuracy, seconds, exclude], [status, plot, *frames, files],
                      api_name="results")


def _status_tab(service: EvalService, token: gr.BrowserState) -> None:
    """A study's progress (the `study_status` API name), and closing or reopening it."""
    with gr.Row():
        status_study = gr.Number(label="Study id", value=1, precision=0, elem_id="status-study")
        status_button = gr.Button("Show status", variant="primary", elem_id="show-status")
        close_button = gr.Button("Close study", elem_id="close-study")
        reopen_button = gr.Button("Reopen study", elem_id="reopen-study")
    status_text = gr.Markdown(elem_id="status-text")
    status_raters = gr.Dataframe(label="Raters: progress, pace, attention checks, flags", visible=False)
    status_open = gr.Dataframe(label="Items with fewer than k answers", visible=False)
    status_agreement = gr.Dataframe(label="Agreement so far", visible=False)

    def show_status(current, study, close: bool | None = None) -> tuple[Any, ...]:
        """The study's progress; with `close` True or False, close or reopen it first."""
        try:
            if close is None:
                state = service.status(current, study_id=int(study))
            else:
                state = service.set_closed(current, study_id=int(study), closed=close)
        except (StorageError, ValueError, TypeError) as error:
            return (f"**{error}**", *[gr.update(visible=False)] * 3)
        tables = state.tables()
        return (
            f"```\n{format_status(state)}\n```",
            gr.update(value=pd.DataFrame(tables["raters"]), visible=True),
            gr.update(value=pd.DataFrame(tables["under_k"], columns=["item", "answers", "holders"]), visible=True),
            gr.update(value=pd.DataFrame(tables["agreement"]), visible=True),
        )

    outputs = [status_text, status_raters, status_open, status_agreement]
    status_button.click(show_status, [token, status_study], outputs, api_name="study_status")
    close_button.click(lambda t, s: show_status(t, s, True), [token, status_study], outputs, api_name=False)
    reopen_button.click(lambda t, s: show_status(t, s, False), [token, status_study], outputs, api_name=False)


def _create_tab(service: EvalService, token: gr.BrowserState, engine: Any) -> None:
    """The Create study form: premises x systems, written with the app's engine when it is the model asked for."""
    form = {
        "name": gr.Textbox(label="Name", elem_id="create-name"),
        "kind": gr.Dropdown(list(STUDY_KINDS), value="pairwise", label="Kind"),
        "criteria": gr.Textbox(label="Criteria (comma-separated; empty: defaults)"),
        "systems": gr.CheckboxGroup(list(SYSTEM_NAMES), value=["full", "plain"], label="Systems"),
        "premises": gr.Textbox(label="Premises file", value=DEFAULT_PREMISES),
    }
    with gr.Row():
        form["limit"] = gr.Number(label="Premises", value=10, precision=0, elem_id="create-limit")
        form["sentences"] = gr.Number(label="Sentences", value=4, precision=0, elem_id="create-sentences")
        form["overlap"] = gr.Number(label="Raters per item (k)", value=3, precision=0, elem_id="create-k")
        form["rate"] = gr.Slider(0, 0.5, value=0.1, step=0.05, label="Attention-check rate", elem_id="create-rate")
    form["model"] = gr.Textbox(label="Model", value=(engine_names(engine) or ["default"])[0], elem_id="create-model")
    gr.Markdown(_model_note(engine), elem_id="create-model-note")
    form["other"] = gr.Textbox(label="Other model (for the 'model' system)")
    form["raters"] = gr.Textbox(label="Rater names (comma-separated)")
    create_button = gr.Button("Generate and create", variant="primary", elem_id="create-study")
    created = gr.Markdown(elem_id="created")

    def create(values: dict, progress=gr.Progress(track_tqdm=True)) -> str:  # noqa: B008
        """Generate and create a study (admins only); the progress bar follows tqdm."""
        try:
            admin = service.require_admin(values[token])
            settings = page_settings({key: values[box] for key, box in form.items()}, owner_id=admin.user_id)
            return _create_study(service.factory, engine, settings)
        except (StorageError, ValueError, TypeError, OSError, AppError) as error:
            return f"**{error}**"

    create_button.click(create, {token, *form.values()}, created, api_name=False)


def _invite_tab(service: EvalService, token: gr.BrowserState) -> None:
    """One-time rater links to this page, with a note on the room the study has left."""
    invite_study = gr.Number(label="Study id", value=1, precision=0, elem_id="invite-study")
    invite_count = gr.Number(label="How many links", value=1, precision=0, elem_id="invite-count")
    invite_force = gr.Checkbox(label="Invite even if the study is full", elem_id="invite-force")
    invite_button = gr.Button("Make one-time links", elem_id="make-invites")
    invite_note = gr.Markdown(elem_id="invite-note")
    links = gr.Textbox(label="Links (valid 7 days)", lines=4, elem_id="invite-links")

    def invite(current, study, count, force, request: gr.Request) -> tuple[str, str]:
        """One-time links to this page (the address the admin is using), valid 7 days; a note on the room left."""
        page = (request.headers.get("referer") or "").split("?", 1)[0] if request else ""
        try:
            service.require_admin(current)
            made = issue_invites(service.factory, study_id=int(study), count=int(count), base_url=page,
                                 force=bool(force), hint=FORCE_HINT)
        except (StorageError, ValueError, TypeError) as error:
            return f"**{error}**", ""
        return f"Made {len(made.links)} links; study {int(study)} now has {made.room.describe()}.", "\n".join(
            link for _, link in made.links)

    invite_button.click(invite, [token, invite_study, invite_count, invite_force], [invite_note, links],
                        api_name=False)


def _plot_frame(kind: str, tables: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """Means per system (Likert, control) or Bradley-Terry scores (pairwise), one bar each."""
    rows = tables["bradley_terry"] if kind == "pairwise" else tables["means"]
    key = "score" if kind == "pairwise" else "mean"
    return pd.DataFrame(
        [
            {
                "label": f"{r['system']} / {r['criterion']}" + (" (at the bound)" if r.get("bound") else ""),
                "value": r[key],
                "criterion": r["criterion"],
            }
            for r in rows
        ],
        columns=["label", "value", "criterion"],
    )


def _frame(table: Any) -> Any:
    """A display table as a visible, labelled Dataframe; hidden when it does not apply to the study's kind."""
    if table is None:
        return gr.update(value=None, visible=False)
    columns = list(table.rows[0]) if table.rows else ["(no answers yet)"]
    return gr.update(value=pd.DataFrame(table.rows, columns=columns), label=table.title, visible=True)


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def page_settings(form: dict[str, Any], *, owner_id: int) -> StudySettings:
    """The Create study form (field name -> value) as the study's settings."""
    return StudySettings(
        spec=StudySpec(
            name=form["name"],
            kind=form["kind"],
            criteria=_names(form["criteria"]),
            overlap_k=int(form["overlap"]),
            attention_rate=float(form["rate"]),
        ),
        owner_id=owner_id,
        generation=Generation(
            premises=form["premises"],
            limit=int(form["limit"]),
            systems=tuple(form["systems"] or ()),
            model=(form["model"] or "").strip() or "default",
            other_model=(form["other"] or "").strip() or None,
            sentences=int(form["sentences"]),
        ),
        raters=tuple(_names(form["raters"])),
    )


def _model_note(engine: Any) -> str:
    """Which model the study will write with: the editor's loaded one, or one loaded here."""
    names = engine_names(engine)
    if not names:
        return "No model is loaded in this server: the model named above is loaded for the study."
    return (f"Leave **{names[0]}** to write with the model the editor already loaded (no second copy in "
            "memory; editor sentences take turns with the study's); any other name loads that model "
            "in this server for the study.")


def _create_study(factory: sessionmaker[Session], engine: Any, settings: StudySettings) -> str:
    """Make the study (`make_study`), reusing the app's engine when it is the model asked for."""
    preloaded = reusable(engine, settings.generation.models())
    made = make_study(factory, settings=settings, preloaded=preloaded)
    notes = [f"written with the editor's loaded model {', '.join(made.models_reused)}"] if made.models_reused else []
    notes += [f"loaded {', '.join(made.models_loaded)} for this study"] if made.models_loaded else []
    notes += [f"{', '.join(made.idle_raters)} got no items"] if made.idle_raters else []
    systems = "".join(f"\n- {system}: `{describe_provenance(p)}`" for system, p in made.provenance.items())
    return (f"Created study {made.study_id} with {made.stories} stories" + (f" ({'; '.join(notes)})." if notes else ".")
            + (f"\n\nWhat wrote each system's stories:{systems}" if systems else ""))
