"""Plain text, EPUB and preference-pair downloads: the service, the Stories tab's handlers, and
the page's named events through gradio_client."""

from __future__ import annotations

import io
import tempfile
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio_client import Client

from app.errors import StoryNotFound
from app.handlers import LOCAL_USER, Handlers
from app.library import Library
from app.writing import StepRequest
from tests.app.helpers import served

XHTML = "{http://www.w3.org/1999/xhtml}"
FIRST = 'He said "1 < 2 & 3".'
EDITED = "東京は雨だった — Привет."


def _write(service, user, story_id, chunks, fake) -> None:
    fake.enqueue(chunks)
    *_, view = service.stream_write(user_id=user, story_id=story_id, request=StepRequest(keywords="rain"))
    assert view.nodes[-1].text == "".join(chunks).strip()


def _story(service, fake, user) -> int:
    """A story of two sentences whose first was then edited: its first version is kept beside it."""
    story = service.new_story(user_id=user, premise="Ann's <first> day & night.", title="Rain & <Tokyo>")
    _write(service, user, story.id, ['He said "1 < 2', ' & 3".'], fake)
    _write(service, user, story.id, ["It rained."], fake)
    service.edit_sentence(user_id=user, story_id=story.id, index=1, text=EDITED)
    return story.id


def _versions(service, user, story_id) -> tuple[int, int]:
    """(first version, edited version) of sentence 1."""
    first = [e for e in service.history(user_id=user, story_id=story_id) if e.position == 0]
    return first[0].node_id, first[1].node_id


def _chapter(epub: bytes) -> ET.Element:
    book = zipfile.ZipFile(io.BytesIO(epub))
    assert book.infolist()[0].filename == "mimetype" and book.infolist()[0].compress_type == zipfile.ZIP_STORED
    (path,) = [n for n in book.namelist() if n.endswith(".xhtml") and not n.endswith("nav.xhtml")]
    return ET.fromstring(book.read(path))


def test_text_and_epub_show_the_story_as_it_reads_now(service, fake, alice):
    story_id = _story(service, fake, alice)
    text = service.export_text(user_id=alice, story_id=story_id)
    assert text == f"Rain & <Tokyo>\n\nAnn's <first> day & night.\n\n{EDITED} It rained.\n"
    markdown = service.export_markdown(user_id=alice, story_id=story_id)
    assert markdown.replace("# ", "", 1).replace("*", "") == text
    chapter = _chapter(service.export_epub(user_id=alice, story_id=story_id))
    assert ["".join(p.itertext()) for p in chapter.iter(f"{XHTML}p")] == [
        "Ann's <first> day & night.", f"{EDITED} It rained."]
    service.make_current(user_id=alice, story_id=story_id, node_id=_versions(service, alice, story_id)[0])
    assert FIRST in service.export_text(user_id=alice, story_id=story_id)


def test_another_writers_story_is_not_exported(service, fake, alice, bob):
    story_id = _story(service, fake, alice)
    for export in (service.export_text, service.export_epub):
        with pytest.raises(StoryNotFound):
            export(user_id=bob, story_id=story_id)


def test_a_deleted_story_can_still_be_exported_as_with_markdown(service, fake, alice):
    story_id = _story(service, fake, alice)
    service.delete(user_id=alice, story_id=story_id)
    assert EDITED in service.export_text(user_id=alice, story_id=story_id)
    assert EDITED in "".join(_chapter(service.export_epub(user_id=alice, story_id=story_id)).itertext())


def test_the_stories_tab_hands_out_files_and_pairs_of_the_writer_only(service, fake, store):
    library = Library(Handlers.of(service))
    local, bob = store.user_id(LOCAL_USER), SimpleNamespace(username="bob")
    story_id = _story(service, fake, local)
    text_path = Path(library.export_text_file(story_id, None))
    assert text_path.name == f"story-{story_id}.txt" and EDITED in text_path.read_text(encoding="utf-8")
    epub_path = Path(library.export_epub_file(str(story_id), None))
    assert epub_path.name == f"story-{story_id}.epub" and EDITED in "".join(_chapter(epub_path.read_bytes()).itertext())
    with pytest.raises(gr.Error, match="no such story"):
        library.export_epub_file(story_id, bob)
    with pytest.raises(gr.Error, match="no preference pairs yet"):
        library.export_pairs_file(None)
    first, edited = _versions(service, local, story_id)
    service.rate_version(user_id=local, story_id=story_id, node_id=edited, rating="up", reason="more vivid")
    service.rate_version(user_id=local, story_id=story_id, node_id=first, rating="down")
    pairs_path = Path(library.export_pairs_file(None))
    (line,) = pairs_path.read_text(encoding="utf-8").splitlines()
    pair = json.loads(line)
    assert pairs_path.name == "preference-pairs.jsonl" and "東京" in line  # kept as written, not \u-escaped
    assert (pair["prompt"], pair["chosen"], pair["rejected"]) == ("Ann's <first> day & night.", EDITED, FIRST)
    assert pair["meta"]["chosen"]["reason"] == "more vivid" and pair["meta"]["story"] == story_id
    with pytest.raises(gr.Error, match="no preference pairs yet"):
        library.export_pairs_file(bob)  # Bob rated nothing; Ann's pairs are not his


def test_the_page_names_the_new_downloads(fake, store, service):
    with served(fake, store) as server:
        client = Client(server.url, verbose=False)
        with pytest.raises(Exception, match="no preference pairs yet"):
            client.predict(api_name="/export_preference_pairs")
        story_id = _story(service, fake, store.user_id(LOCAL_USER))
        text = Path(client.predict(story_id, api_name="/export_text_file")).read_text(encoding="utf-8")
        assert text.startswith("Rain & <Tokyo>\n\n") and EDITED in text
        epub = Path(client.predict(story_id, api_name="/export_epub_file")).read_bytes()
        assert EDITED in "".join(_chapter(epub).itertext())
        first, edited = _versions(service, store.user_id(LOCAL_USER), story_id)
        service.rate_version(user_id=store.user_id(LOCAL_USER), story_id=story_id, node_id=first, rating="up")
        service.rate_version(user_id=store.user_id(LOCAL_USER), story_id=story_id, node_id=edited, rating="down")
        pairs = Path(client.predict(api_name="/export_preference_pairs")).read_text(encoding="utf-8")
        assert [json.loads(line)["chosen"] for line in pairs.splitlines()] == [FIRST]


def test_an_export_leaves_no_temporary_copy(service, fake, store, tmp_path, monkeypatch):
    """Each download is one file in Gradio's cache, which serves it; nothing is left in the temp folder."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    library = Library(Handlers.of(service))
    story_id = _story(service, fake, store.user_id(LOCAL_USER))
    for export in (library.export_json_file, library.export_markdown_file, library.export_text_file,
                   library.export_epub_file):
        path = Path(export(story_id, None))
        assert path.is_file() and path.is_relative_to(tmp_path / "gradio") and path.stat().st_size > 0
    assert list((tmp_path / "tmp").iterdir()) == []
