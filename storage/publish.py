"""Stories for readers and training sets: plain text, EPUB, and preference pairs as JSON Lines.

Text and EPUB take a loaded `StoryView` (`load_story`) and show what the Markdown export
shows: the title, the premise, then the story's sentences as flowing prose (a blank line
inside a sentence starts a new paragraph). Nothing here opens a session.
"""

from __future__ import annotations

import html
import io
import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from storage.records import StoryView

UNTITLED = "Untitled story"
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_STYLE = """body { font-family: serif; line-height: 1.5; }
h1 { text-align: center; }
p.premise { font-style: italic; }
"""


def title_of(view: StoryView) -> str:
    """The story's title, or a stand-in when it has none."""
    return view.title.strip() or UNTITLED


def paragraphs(view: StoryView) -> list[str]:
    """The story's sentences (root to head) as paragraphs of prose, without the premise."""
    if not view.nodes:
        return []
    return [" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(view.text) if p.strip()]


def story_text(view: StoryView) -> str:
    """The story as plain text: title, premise and prose, separated by blank lines."""
    parts = [title_of(view)]
    if view.premise.strip():
        parts.append(view.premise.strip())
    parts.extend(paragraphs(view))
    return "\n\n".join(parts) + "\n"


def story_epub(view: StoryView, *, language: str = "en", author: str = "") -> bytes:
    """The story as an EPUB 3 book of one chapter (with an EPUB 2 table of contents for older readers).

    Args:
        view: The loaded story.
        language: The book's language tag (BCP 47).
        author: The creator to name in the book's metadata; empty names none.

    Returns:
        The EPUB file's bytes.
    """
    from ebooklib import epub

    title = title_of(view)
    book = epub.EpubBook()
    book.set_identifier(_identifier(view))
    book.set_title(title)
    book.set_language(language)
    if author.strip():
        book.add_author(author.strip())
    style = epub.EpubItem(uid="style", file_name="style.css", media_type="text/css", content=_STYLE)
    chapter = epub.EpubHtml(title=title, file_name="story.xhtml", lang=language)
    chapter.content = _chapter_html(view)
    chapter.add_item(style)
    book.add_item(style)
    book.add_item(chapter)
    book.toc = (chapter,)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = [chapter]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book, {})
    return buffer.getvalue()


def pairs_jsonl(pairs: Iterable[dict[str, Any]]) -> str:
    """Preference pairs (`preference_pairs`) as JSON Lines: one object per line, UTF-8 text kept as is."""
    return "".join(json.dumps(pair, ensure_ascii=False) + "\n" for pair in pairs)


def _chapter_html(view: StoryView) -> str:
    """The chapter's body: every piece of story text escaped, so `<`, `&` and quotes stay text."""
    parts = [f"<h1>{html.escape(title_of(view))}</h1>"]
    if view.premise.strip():
        parts.append(f'<p class="premise">{html.escape(view.premise.strip())}</p>')
    parts.extend(f"<p>{html.escape(p)}</p>" for p in paragraphs(view))
    return "<html><body>" + "\n".join(parts) + "</body></html>"


def _identifier(view: StoryView) -> str:
    """A stable book id: the same story gives the same id in every export."""
    name = f"cntrl-studio/story/{view.id}/{view.created_at.isoformat()}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
