"""Closed word classes shared by the regex, spoken-form and NER passes.

Each class is written once, lower case. Regex fragments built from a class
(``MONTH_PATTERN``) are derived here too, so a word added to a class reaches
every pass that uses it.
"""

from __future__ import annotations

MONTH_NAMES: tuple[str, ...] = (
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
)
# Three-letter stems, also the cheap triggers of the written-date patterns.
MONTH_STEMS: tuple[str, ...] = tuple(m[:3] for m in MONTH_NAMES)
# A month as written: full, three letters, "sept"; no letter may follow.
MONTH_PATTERN = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
WEEKDAY_NAMES: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_PATTERN = (
    r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?"
)

ORDINAL_UNITS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
}
ORDINALS: dict[str, int] = {
    **ORDINAL_UNITS,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})

# US states, DC and the inhabited territories Masker's address rules accept.
STATE_ABBREVIATIONS: tuple[str, ...] = tuple(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI".split()
)
STATE_NAMES: tuple[str, ...] = (
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware",
    "district of columbia", "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa",
    "kansas", "kentucky", "louisiana", "maine", "maryland", "massachusetts", "michigan", "minnesota",
    "mississippi", "missouri", "montana", "nebraska", "nevada", "new hampshire", "new jersey",
    "new mexico", "new york", "north carolina", "north dakota", "ohio", "oklahoma", "oregon",
    "pennsylvania", "rhode island", "south carolina", "south dakota", "tennessee", "texas", "utah",
    "vermont", "virginia", "washington", "west virginia", "wisconsin", "wyoming", "puerto rico",
)

# Street-type words and their postal abbreviations (USPS Publication 28, the common ones).
STREET_SUFFIXES: tuple[str, ...] = (
    "street", "st", "avenue", "ave", "av", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive", "dr",
    "court", "ct", "place", "pl", "way", "terrace", "ter", "circle", "cir", "parkway", "pkwy", "highway",
    "hwy", "square", "sq", "trail", "trl", "plaza", "plz", "alley", "aly", "route", "rte", "pike", "row",
    "loop", "crescent", "cres", "freeway", "fwy", "expressway", "expy",
)
# Words that introduce the unit of an address.
UNIT_WORDS: tuple[str, ...] = ("apartment", "apt", "unit", "suite", "ste", "fl", "floor", "rm", "bldg", "building")

# Top-level domains that end bare domains ("example.org") and spoken e-mail
# addresses ("... dot com"): the generic ones people type, and the country
# codes Masker's users write most.
TLDS: tuple[str, ...] = (
    "com", "org", "net", "edu", "gov", "mil", "io", "us", "info", "health", "care", "biz", "me", "uk",
    "ca", "ai", "app", "dev", "co", "clinic", "hospital", "de", "au", "in", "fr",
)

# Hesitations a speech recogniser writes between the parts of one value.
FILLERS: frozenset[str] = frozenset({"uh", "um", "umm", "er", "erm", "ah", "hmm", "mm"})
