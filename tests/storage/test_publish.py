"""Publishing a story: plain text with the Markdown export's words, and an EPUB 3 book that
opens as one (mimetype first and stored, container, package, navigation, an XHTML chapter
holding every sentence with its special characters and scripts intact); preference pairs as
JSON Lines."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile

import pytest

from storage import Provenance, add_sibling, append_node, create_story, export_markdown, load_story
from storage.publish import pairs_jsonl, story_epub, story_text

NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container", "opf": "http://www.idpf.org/2007/opf",
      "dc": "http://purl.org/dc/elements/1.1/", "x": "http://www.w3.org/1999/xhtml"}
TITLE = 'Rain & <b>"Tokyo"</b>'
PREMISE = "Ann's <premise> & \"quotes\"."
SENTENCES = ['He wrote "1 < 2 & 3 > 2" on the wall.', "東京は雨だった。", "Привет, мир — said Ann.",
             "قالت آن مرحبا.", "It's over.\n\nA new day began."]


@pytest.fixture
def story(factory, users) -> tuple[int, int]:
    """Ann's story with the sentences above (the first written twice); (user id, story id)."""
    ann = users["ann"]
    with factory.begin() as session:
        story = create_story(session, user_id=ann, title=TITLE, premise=PREMISE)
        first = append_node(session, user_id=ann, story_id=story.id, text="An older version.",
                            provenance=Provenance(source="typed"))
        add_sibling(session, user_id=ann, story_id=story.id, node_id=first.id, text=SENTENCES[0],
                    provenance=Provenance(source="typed"))
        for text in SENTENCES[1:]:
            append_node(session, user_id=ann, story_id=story.id, text=text, provenance=Provenance(source="typed"))
        return ann, story.id


def _view(factory, story):
    user, story_id = story
    with factory() as session:
        return load_story(session, user_id=user, story_id=story_id)


def test_plain_text_is_the_markdown_export_without_markup(factory, story):
    text = story_text(_view(factory, story))
    assert text == (f"{TITLE}\n\n{PREMISE}\n\n" + " ".join(SENTENCES[:-1]) + " It's over.\n\nA new day began.\n")
    assert "An older version." not in text  # only the story's path, root to head
    with factory() as session:
        markdown = export_markdown(session, user_id=story[0], story_id=story[1])
    assert markdown == f"# {TITLE}\n\n*{PREMISE}*\n\n" + text.split("\n\n", 2)[2]


def test_a_story_without_title_or_sentences_still_reads(factory, users):
    with factory.begin() as session:
        story_id = create_story(session, user_id=users["bob"], title="  ", premise="Bob lost his keys.").id
    view = _view(factory, (users["bob"], story_id))
    assert story_text(view) == "Untitled story\n\nBob lost his keys.\n"
    chapter = _chapter(zipfile.ZipFile(io.BytesIO(story_epub(view))))
    assert [p.text for p in chapter.iter(f"{{{NS['x']}}}p")] == ["Bob lost his keys."]


def test_the_epub_is_a_valid_container_with_mimetype_first_and_stored(factory, story):
    book = zipfile.ZipFile(io.BytesIO(story_epub(_view(factory, story))))
    first = book.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED and not first.extra
    assert book.read("mimetype") == b"application/epub+zip"
    assert book.testzip() is None
    container = ET.fromstring(book.read("META-INF/container.xml"))
    (rootfile,) = container.findall(".//c:rootfile", NS)
    assert rootfile.get("media-type") == "application/oebps-package+xml"
    package = ET.fromstring(book.read(rootfile.get("full-path")))
    assert package.get("version") == "3.0"
    assert package.findtext(".//dc:title", namespaces=NS) == TITLE
    assert package.findtext(".//dc:language", namespaces=NS) == "en"
    items = {item.get("id"): item for item in package.findall(".//opf:manifest/opf:item", NS)}
    nav = next(item for item in items.values() if item.get("properties") == "nav")
    spine = [ref.get("idref") for ref in package.findall(".//opf:spine/opf:itemref", NS)]
    folder = rootfile.get("full-path").rpartition("/")[0]
    chapter_path = f"{folder}/{items[spine[0]].get('href')}"
    assert items[spine[0]].get("media-type") == "application/xhtml+xml"
    for path in (chapter_path, f"{folder}/{nav.get('href')}"):
        ET.fromstring(book.read(path))  # every XHTML document is well-formed XML


def test_the_chapter_holds_every_sentence_escaped_and_in_its_own_script(factory, story):
    view = _view(factory, story)
    book = zipfile.ZipFile(io.BytesIO(story_epub(view)))
    raw = book.read(_chapter_path(book)).decode("utf-8")
    assert "&lt;b&gt;" in raw and "&amp;" in raw and "<b>" not in raw  # markup in the text stays text
    chapter = _chapter(book)
    assert chapter.find(".//x:b", NS) is None
    assert chapter.findtext(".//x:h1", namespaces=NS) == TITLE
    paragraphs = ["".join(p.itertext()) for p in chapter.iter(f"{{{NS['x']}}}p")]
    assert paragraphs == [PREMISE, " ".join(SENTENCES[:-1]) + " It's over.", "A new day began."]
    for text in ("東京は雨だった。", "Привет, мир", "قالت آن مرحبا.", '"1 < 2 & 3 > 2"'):
        assert text in paragraphs[1]


def test_the_same_story_keeps_its_book_identifier(factory, story, users):
    view = _view(factory, story)
    ids = {_package(zipfile.ZipFile(io.BytesIO(story_epub(view)))).findtext(".//dc:identifier", namespaces=NS)
           for _ in range(2)}
    assert len(ids) == 1 and next(iter(ids)).startswith("urn:uuid:")
    other = _view(factory, (users["bob"], _bobs_story(factory, users)))
    assert _package(zipfile.ZipFile(io.BytesIO(story_epub(other)))).findtext(".//dc:identifier", namespaces=NS) \
        not in ids


def test_an_author_and_language_reach_the_metadata(factory, story):
    package = _package(zipfile.ZipFile(io.BytesIO(story_epub(_view(factory, story), language="ja", author="アン"))))
    assert package.findtext(".//dc:creator", namespaces=NS) == "アン"
    assert package.findtext(".//dc:language", namespaces=NS) == "ja"


def test_pairs_are_one_json_object_per_line_with_their_text_as_written():
    pairs = [{"prompt": "雨。", "chosen": 'She said "<hi>".', "rejected": "No.", "meta": {"story": 1}},
             {"prompt": "p", "chosen": "a\nb", "rejected": "c", "meta": {"story": 2}}]
    text = pairs_jsonl(pairs)
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith("\n") and "雨" in lines[0]
    assert [json.loads(line) for line in lines] == pairs
    assert pairs_jsonl([]) == ""


def _bobs_story(factory, users) -> int:
    with factory.begin() as session:
        return create_story(session, user_id=users["bob"], title="Other", premise="Bob.").id


def _package(book: zipfile.ZipFile) -> ET.Element:
    container = ET.fromstring(book.read("META-INF/container.xml"))
    return ET.fromstring(book.read(container.find(".//c:rootfile", NS).get("full-path")))


def _chapter_path(book: zipfile.ZipFile) -> str:
    container = ET.fromstring(book.read("META-INF/container.xml"))
    opf = container.find(".//c:rootfile", NS).get("full-path")
    package = ET.fromstring(book.read(opf))
    first = package.find(".//opf:spine/opf:itemref", NS).get("idref")
    href = package.find(f".//opf:manifest/opf:item[@id='{first}']", NS).get("href")
    return f"{opf.rpartition('/')[0]}/{href}"


def _chapter(book: zipfile.ZipFile) -> ET.Element:
    return ET.fromstring(book.read(_chapter_path(book)))
