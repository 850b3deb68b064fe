"""Detection vocabulary: every word list, cue list and stop list the passes read, in one place.

- ``words``: closed word classes (months, weekdays, ordinals, US states,
  street suffixes, unit words, top-level domains, speech fillers);
- ``cues``: cue words per kind, as written (regex fragments) and as spoken;
- ``lexicon``: the large file-backed lists in ``data/`` (common English
  words, given names that are words, medicine names, name look-alikes);
- ``shorthand``: clinical abbreviations that are not names.

A rule that needs a word class imports it from here; no pass keeps a copy.
"""
