"""Keyboard shortcuts of the Write tab: a keydown listener (`assets/ui/keys.js`) and its help panel."""

from __future__ import annotations

import gradio as gr

from engine.paths import asset

# (keys, what they do), in the order the help panel lists them.
SHORTCUTS = (
    ("Ctrl+Enter", "write the next sentence (in the premise or title box: **New story**)"),
    ("Alt+R", "regenerate the focused sentence row with its keywords (no row focused: the last one)"),
    ("Ctrl+Z", "undo the last change to the story"),
    ("Ctrl+Y, Ctrl+Shift+Z", "redo it"),
    ("Alt+Left, Alt+Right", "previous / next candidate of the focused row (no row focused: the last one)"),
    ("Esc", "leave the text box"),
)
NOTE = ("In a text box, Ctrl+Z and Ctrl+Y undo and redo your typing, as everywhere; press Esc or click "
        "outside the box first to undo a change to the story. On a Mac, Cmd works as Ctrl.")


def shortcuts_markdown() -> str:
    """The help panel's text: a table of the keys, then the note on text boxes."""
    rows = "\n".join(f"| {keys} | {effect} |" for keys, effect in SHORTCUTS)
    return f"| Keys | Effect |\n|---|---|\n{rows}\n\n{NOTE}"


def keyboard_shortcuts(demo: gr.Blocks) -> None:
    """Call inside the Write tab: the collapsed help panel, and the listener installed on page load.

    The listener is a page-load event rather than `launch(js=...)`, so it also runs where the
    page is mounted into another server (`app/cli.py`) rather than launched.
    """
    with gr.Accordion("Keyboard shortcuts", open=False, elem_id="shortcuts"):
        gr.Markdown(shortcuts_markdown(), elem_id="shortcuts-list")
    demo.load(None, js=asset("ui", "keys.js").read_text(encoding="utf-8"), api_visibility="private")
