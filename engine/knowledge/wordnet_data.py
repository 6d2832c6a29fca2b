"""Locating WordNet 3.0 for NLTK: its own installed data, or Debian's database files.

Debian's `wordnet-base` and `wordnet-sense-index` packages put the database in
`/usr/share/wordnet`. NLTK's reader needs those files in a `corpora/wordnet` folder
with a `lexnames` file beside them, so we copy them into `<data_dir>/nltk_data`
and write `lexnames` from `assets/wordnet_lexnames`. Nothing is ever downloaded.
"""

from __future__ import annotations

import shutil
import warnings
from functools import lru_cache
from pathlib import Path

from engine.paths import asset, data_dir

SYSTEM_WORDNET = Path("/usr/share/wordnet")
NEEDED_FILES = (
    "index.noun", "index.verb", "index.adj", "index.adv",
    "data.noun", "data.verb", "data.adj", "data.adv",
    "noun.exc", "verb.exc", "adj.exc", "adv.exc",
)  # fmt: skip
OPTIONAL_FILES = ("index.sense", "cntlist.rev")


def nltk_data_dir(override: str | Path | None = None) -> Path:
    """The product's own NLTK data folder inside the data directory."""
    return data_dir(override) / "nltk_data"


def register_nltk_path(override: str | Path | None = None) -> Path:
    """Append our NLTK data folder to `nltk.data.path` (once) and return it."""
    import nltk

    folder = nltk_data_dir(override)
    if str(folder) not in nltk.data.path:
        nltk.data.path.append(str(folder))
    return folder


def install_system_wordnet(
    *, data_dir_override: str | Path | None = None, source: Path = SYSTEM_WORDNET
) -> Path:
    """Copy Debian's WordNet files into `<data_dir>/nltk_data/corpora/wordnet`.

    Args:
        data_dir_override: data directory (default: the product's data directory).
        source: folder holding the WordNet 3.0 database files.

    Returns:
        The `corpora/wordnet` folder.

    Raises:
        FileNotFoundError: the database files are not in `source`.
    """
    missing = [name for name in NEEDED_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"WordNet database not found in {source} (missing {', '.join(missing[:3])}); "
            "install it with: apt-get install -y wordnet-base wordnet-sense-index"
        )
    target = nltk_data_dir(data_dir_override) / "corpora" / "wordnet"
    target.mkdir(parents=True, exist_ok=True)
    for name in NEEDED_FILES + OPTIONAL_FILES:
        src, dst = source / name, target / name
        if src.is_file() and not dst.exists():
            shutil.copyfile(src, dst)  # NLTK refuses symlinks that leave its root
    lexnames = target / "lexnames"
    if not lexnames.exists():
        shutil.copyfile(asset("wordnet_lexnames"), lexnames)
    return target


def _find_wordnet_root(override: str | Path | None):
    """NLTK's own WordNet if installed anywhere on its path, else ours, else None."""
    import nltk

    register_nltk_path(override)
    for resource in ("corpora/wordnet", "corpora/wordnet.zip/wordnet/"):
        try:
            return nltk.data.find(resource)
        except LookupError:
            continue
    return None


def load_wordnet(override: str | Path | None = None, *, install: bool = True):
    """Return an NLTK WordNet reader, or None when no WordNet data is available.

    Args:
        override: data directory (default: the product's data directory).
        install: copy Debian's files into our folder first when they are installed.
    """
    return _load_wordnet(str(data_dir(override)), install)


@lru_cache(maxsize=4)
def _load_wordnet(folder: str, install: bool):
    root = _find_wordnet_root(folder)
    if root is None and install and SYSTEM_WORDNET.is_dir():
        try:
            install_system_wordnet(data_dir_override=folder)
        except (FileNotFoundError, OSError):
            return None
        root = _find_wordnet_root(folder)
    if root is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return _make_reader(root)


def _make_reader(root):
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNet(WordNetCorpusReader):
        """WordNet without the Open Multilingual Wordnet: skips NLTK's version mapping."""

        def map_wn(self, version="wordnet"):
            return None  # only used for OMW data, which we never load; saves ~10 s

    return EnglishWordNet(root, None)


@lru_cache(maxsize=4)
def sense_counts(wordnet) -> dict[str, int]:
    """Tagged-corpus count per sense key, read once from `cntlist.rev` (empty if absent)."""
    counts: dict[str, int] = {}
    try:
        with wordnet.open("cntlist.rev") as handle:
            for line in handle:  # "dog%1:05:00:: 1 42": sense key, sense number, count
                key, _, count = line.rsplit(" ", 2)
                counts[key] = int(count)
    except (OSError, ValueError):
        pass
    return counts
