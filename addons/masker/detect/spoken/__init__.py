"""Spoken-form detection pass: identifiers as speech-to-text writes them.

Voice agents forward transcripts: "my social is one two three forty five sixty
seven eighty nine", "tom dot becker at gmail dot com", "r a g h u". This pass
works on the tokenized digit view (``view``) and reports spans on the
original words. It only reports spans that involve spoken forms (number
words, spelled letters, "at"/"dot"): digits as written are the regex pass's
job. Policy thresholds are applied by the pipeline, not here.

Recognizers (``recognizers.RECOGNIZERS``), in the order they claim items:
- ``spoken_email`` (``email``): "tom dot becker at gmail dot com"
- ``spoken_date`` (``dates``): "january fifth nineteen eighty", "the fifth of january"
- ``spoken_spelled`` (``letters``): letter runs, alone (NAME) or mixed with
  digits (MRN, member id ...), detectors ``spoken_spelled`` / ``spoken_id``
- ``spoken_number`` (``numbers``): digit chains ("five ten, five five five,
  one two one two") classified by the nearest cue, else by their shape and
  checksums, detectors ``spoken_<kind>``
- ``spoken_address`` (``address``), ``spoken_age`` (``age``): "twelve
  hundred main street", "ninety two years old"

Each recognizer is a left-to-right walk over the items with bounded
look-back (``scan``), so the pass is linear in the text length; texts
without any number word, spelled letter or spoken email are skipped after
one word scan (``precheck``). The cue words are ``vocab.spoken_cues``.
"""

from masker.detect.spoken.recognizers import RECOGNIZERS
from masker.detect.spoken.spoken_pass import KINDS, PASS_NAME, SpokenPass
from masker.detect.spoken.view import SpokenView, normalize
from masker.detect.vocab.words import ORDINALS

__all__ = ["KINDS", "ORDINALS", "PASS_NAME", "RECOGNIZERS", "SpokenPass", "SpokenView", "normalize"]
