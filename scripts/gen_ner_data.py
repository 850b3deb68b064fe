"""Generate synthetic NER training text for Masker's ``ner`` pass.

Writes JSON lines ``{"text": str, "spans": [[start, end, LABEL], ...]}`` with
end-exclusive character offsets. Labels: NAME, LOCATION, ADDRESS,
ORGANIZATION, DATE, AGE (over 89 only, as Safe Harbor), PHONE, EMAIL, SSN,
MRN, ID (member/policy/account/claim numbers), URL.

Everything here is written for this project: the templates are our own
conversational / clinical / voice-agent phrasings, values come from Faker and
hand-written lists. No benchmark set, nor any template of one, is used.
Styles: as written, ASR-like (lowercase, no punctuation, numbers in words)
and ALL-CAPS clinical notes. About a third of the sentences are hard negatives
(doses, vitals, times, counts, eponymous diseases) with no entity at all.

Nursing notes (``--notes`` share) also mix in, since round 5: month/day
dates, staff initials, outside facilities by initials next to hospital units
in the same slots, ward + floor, short town names; and as negatives ranges,
fractions, "@" rates, dotted abbreviations, devices, the runtime's
``CLINICAL_SHORTHAND`` list, clinical jargon and typo noise. (The shipped
weights predate these families; see the model card.)

    python scripts/gen_ner_data.py --n 12000 --seed 1 --out /tmp/ner/train.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
from collections.abc import Sequence
from pathlib import Path

from faker import Faker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "addons"))
from masker.detect.shorthand import CLINICAL_SHORTHAND  # noqa: E402

LOCALES = ["en_US", "en_US", "en_US", "en_GB", "fr_FR", "es_ES", "de_DE", "pt_BR", "it_IT", "en_IE"]
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
         "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
            "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth",
            "twenty first", "twenty second", "twenty third", "twenty fourth", "twenty fifth",
            "twenty sixth", "twenty seventh", "twenty eighth", "twenty ninth", "thirtieth",
            "thirty first"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
TITLES = ["Dr.", "Dr", "Mr.", "Mrs.", "Ms.", "Miss", "Nurse", "Doctor", "Prof."]
RELATIONS = ["wife", "husband", "daughter", "son", "mother", "father", "sister", "brother",
             "niece", "nephew", "partner", "caregiver", "aunt", "grandson", "granddaughter",
             "neighbor", "health care proxy", "guardian"]
ORG_SUFFIX = ["Medical Center", "General Hospital", "Hospital", "Family Clinic", "Health",
              "Regional Medical Center", "Urgent Care", "Pediatrics", "Cardiology Associates",
              "Rehabilitation Center", "Nursing Home", "Hospice", "Pharmacy", "Dialysis Center",
              "Imaging", "Orthopedics", "Behavioral Health", "Community Health Center",
              "Memorial Hospital", "Children's Hospital", "Surgical Associates", "Labs"]
ORG_FIXED = ["Blue Cross Blue Shield", "Aetna", "Cigna", "UnitedHealthcare", "Humana", "Kaiser Permanente",
             "Medicaid", "Walgreens", "CVS", "Rite Aid", "Quest Diagnostics", "LabCorp", "Mayo Clinic",
             "Cleveland Clinic", "Johns Hopkins", "Mass General", "Anthem", "Molina Healthcare",
             "Amazon", "Walmart", "Home Depot", "Starbucks", "FedEx", "the VA"]
STREET_SUFFIX = ["Street", "St", "St.", "Avenue", "Ave", "Ave.", "Road", "Rd", "Boulevard", "Blvd",
                 "Lane", "Ln", "Drive", "Dr", "Court", "Ct", "Way", "Place", "Terrace", "Circle", "Pike"]
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
                 "proton.me", "comcast.net", "example.org", "mail.com"]

# Hard negatives: clinical and conversational text with no identifier in it.
NEGATIVES = [
    "Take {n} mg of {drug} twice daily with food.",
    "Blood pressure was {bp}, heart rate {hr}, temp {temp}, sats {sat}% on room air.",
    "Give {drug} {n} milligrams every {h} hours as needed for pain.",
    "Patient reports {n} episodes of vomiting over the last {h} hours.",
    "Follow up in {h} weeks if symptoms persist.",
    "Her A1c was {a1c} and LDL {ldl}.",
    "Glucose {ldl} this morning, insulin {n} units given at {time}.",
    "I take my pills at {time} and again at bedtime.",
    "Can you move my appointment to {weekday} afternoon?",
    "He walked {n} feet with a walker and tolerated it well.",
    "Pain is {pain} out of ten, worse at night.",
    "History of {disease} and {disease2}.",
    "Rule out {disease}; start {drug} {n} mg.",
    "The patient is on {n} liters nasal cannula.",
    "Urine output {ldl} ml over {h} hours.",
    "Please refill my {drug}, I have {pain} pills left.",
    "I have been coughing for about {h} days.",
    "Wound measures {pain} by {h} cm, no drainage.",
    "Room {hr}, bed {pain}.",
    "INR {a1c}, platelets {ldl}, hemoglobin {a1c}.",
    "Call back between {time} and {time2} on weekdays.",
    "Your copay is ${n} for this visit.",
    "Press {pain} to speak to a pharmacist.",
    "The results should be ready in {h} to {pain} business days.",
    "GCS {pain}, pupils equal and reactive.",
    "Ok thanks, that works for me.",
    "Yes I can hear you now.",
    "What are the side effects of {drug}?",
    "Is it safe to take {drug} with {drug2}?",
    "She scored {pain} on the {scale}.",
    "Ambulating in the hallway, {n} steps with assist.",
    "Weight {ldl} lbs, height {hr} inches, BMI {a1c}.",
    "Version {pain}.{h} of the app crashed on startup.",
    "Schedule the MRI for {weekday} at {time}.",
    "Order CBC, BMP and lipid panel, fasting.",
    "Patient denies chest pain, shortness of breath or fever.",
    "Family history significant for {disease}.",
    "ICD-10 {icd}, CPT {cpt}.",
    "Plan: continue current regimen, recheck in {h} months.",
    "The {scale} was negative.",
    "NSR on monitor, HR {hr}, BP {bp}, afebrile.",
    "LASIX {n} MG IV GIVEN WITH GOOD RESPONSE.",
    "NPO after midnight for procedure, IVF at {hr} cc/hr.",
    "Lungs clear bilaterally, abd soft, +BS.",
    "Turned q{h}h, skin intact, no redness.",
    "MICU team aware, will continue to monitor.",
    "Dr. on call notified of K {a1c}, repleted.",
    "What is the recommended {drug} dose for a {hr} kg adult with {disease}?",
    "Compare {drug} versus {drug2} for {disease} in patients over {hr}.",
    "What are the criteria for diagnosing {disease}?",
    "Summarize the latest guidelines for {disease} management.",
    "How should {drug} be tapered after {h} weeks of use?",
    "A {hr} year old with {disease}: first-line therapy?",
    "Pt resting comfortably, no c/o pain, call light in reach.",
    "Sputum sent for culture at {time}.",
]
MORE_DRUGS = ["Lopressor", "metoprolol", "Plavix", "Zofran", "Reglan", "Colace", "senna", "Dulcolax",
              "Lovenox", "Xanax", "Seroquel", "Ambien", "Benadryl", "Percocet", "oxycodone", "Vicodin",
              "Toradol", "Solumedrol", "Decadron", "Cipro", "Levaquin", "Bactrim", "Diflucan", "Cefazolin",
              "Unasyn", "Zyvox", "Tobramycin", "Neurontin", "Dilantin", "Depakote", "Synthroid", "Pepcid",
              "Nexium", "Imdur", "Cardizem", "Captopril", "Vasopressin", "Neo", "Nipride", "Natrecor",
              "Integrilin", "Argatroban", "Mucomyst", "Lactulose", "Rifaximin", "Epogen", "Procrit"]
DRUGS = ["metformin", "lisinopril", "Tylenol", "ibuprofen", "Lasix", "heparin", "insulin glargine",
         "amoxicillin", "Coumadin", "prednisone", "Zoloft", "atorvastatin", "morphine", "Keppra",
         "vancomycin", "aspirin", "Eliquis", "albuterol", "gabapentin", "Norvasc", "milrinone", "amiodarone",
         "Levophed", "dopamine", "propofol", "fentanyl", "Zosyn", "Protonix", "Ativan", "Haldol", "Dilaudid",
         "Coreg", "digoxin", "nitroglycerin", "Precedex", "Flagyl", "Kayexalate"]
DISEASES = ["Parkinson's disease", "Alzheimer's dementia", "Crohn's disease", "Hodgkin lymphoma",
            "Graves disease", "Addison's disease", "Bell's palsy", "Down syndrome", "Cushing syndrome",
            "Hashimoto thyroiditis", "type 2 diabetes", "CHF", "COPD", "atrial fibrillation",
            "Guillain-Barre syndrome", "Tourette syndrome", "Lyme disease", "hypertension",
            "Marfan syndrome", "Huntington's disease"]
# Hospital units and services: in the same slots as facilities, never PHI.
UNITS = ["MICU", "SICU", "CCU", "CSRU", "TSICU", "NICU", "PACU", "the ED", "the ER", "the OR", "the floor",
         "cath lab", "rehab", "OSH", "the unit", "step down", "telemetry", "IR", "EP lab", "dialysis",
         "home", "the SNF", "radiology", "CT", "MRI"]
# Short real town and city names (the generator's Faker cities are mostly long).
TOWNS = ["Lynn", "Salem", "Milton", "Quincy", "Derry", "Troy", "Bath", "Dover", "Avon", "Ayer", "Rye",
         "Hull", "Ware", "Essex", "Acton", "Bourne", "Natick", "Newton", "Revere", "Malden", "Woburn",
         "Dedham", "Canton", "Sharon", "Easton", "Peru", "Cairo", "Alma", "Enid", "Reno", "Waco", "Provo",
         "Ogden", "Macon", "Selma", "Akron", "Erie", "Utica", "Elgin", "Flint", "Omaha", "Tulsa", "Boise",
         "Nome", "Mesa", "Yuma", "Lodi", "Chico", "Napa", "Ames", "Gary", "Biloxi", "Keene", "Nashua",
         "Concord", "Bangor", "Lowell", "Lenox", "Stow", "Hudson", "Orange", "Athol", "Gardner", "Paris"]
DEVICES = ["Swan", "Cordis", "A-line", "Foley", "PICC", "Hickman", "Quinton", "Pleurx", "Dobhoff",
           "Salem sump", "Jackson-Pratt", "Pigtail", "Aquacel", "Mepilex", "Duoderm", "Xeroform",
           "Kinair bed", "Rotoprone", "Bair Hugger", "Pyxis", "Alaris pump", "Impella", "Optiflow"]
SHORTHAND = sorted(CLINICAL_SHORTHAND)
# Clinical vocabulary that a small general-domain wordpiece vocabulary splits
# into pieces (like a rare surname): hard negatives for notes.
JARGON = ("diuresis diuresing diaphoretic tachycardic bradycardic hypotensive hypertensive afebrile "
          "febrile lethargic somnolent obtunded oriented arousable ambulated ambulating desatted desaturated "
          "extubated intubated reintubated sedated titrated weaned repleted bolused transfused suctioned "
          "thoracentesis paracentesis bronchoscopy tracheostomy gastrostomy jejunostomy colonoscopy "
          "cholecystectomy laparotomy craniotomy angioplasty pericardiocentesis hemodialysis ultrafiltration "
          "vasopressors pressors inotropes anticoagulated heparinized coagulopathy thrombocytopenia "
          "leukocytosis hyperkalemia hypokalemia hyponatremia hypomagnesemia hypoglycemia hyperglycemia "
          "acidosis alkalosis atelectasis effusion infiltrate consolidation pneumothorax edematous anasarca "
          "crepitus rhonchi wheezes stridor crackles diminished coarse copious tenacious purulent "
          "serosanguinous sanguinous erythematous excoriated macerated ecchymotic petechiae induration "
          "guaiac melena hematochezia hematemesis emesis nausea distended tympanic flatus incontinent "
          "oliguric anuric foley urosepsis bacteremia cellulitis osteomyelitis endocarditis sepsis "
          "encephalopathy delirium agitated restless combative cooperative appropriate nonverbal aphasic "
          "hemiparesis dysphagia dysarthria nystagmus myoclonus tremulous seizing postictal "
          "echocardiogram angiogram ventriculogram electrolytes coags lytes gtts drips boluses "
          "ativan versed haldol lopressor levophed neosynephrine vanco zosyn flagyl cefepime meropenem "
          "propofol fentanyl dilaudid morphine oxycodone tylenol colace senna dulcolax lactulose "
          "pt's cont'd con't w/o d/c'd f/u'd sx'd trach'd re-sited resited reinforced dsg dressing "
          "sm mod lg amt amts yellowish tan thick thin frothy blood-tinged brownish greenish "
          "overnite tonite nite thru pls approx tol'd tolerated tolerating").split()
TYPO_SKIP = set("dr mr mrs ms".split())
SCALES = ["Glasgow Coma Scale", "Apgar score", "Braden scale", "Morse fall scale", "PHQ-9",
          "Mini-Cog", "Beck Depression Inventory", "Babinski test", "Romberg test"]

# Template slots filled by one pick from a list: slot -> (values, label or None).
LIST_SLOTS: dict[str, tuple[Sequence[str], str | None]] = {
    "UNIT": (UNITS, None), "TOWN": (TOWNS, "LOCATION"), "dev": (DEVICES, None), "SH": (SHORTHAND, None),
    "jar": (JARGON, None), "TITLE": (TITLES, None), "REL": (RELATIONS, None), "MONTH": (MONTHS, None),
    "drug": (DRUGS, None), "drug2": (DRUGS, None), "disease": (DISEASES, None), "disease2": (DISEASES, None),
    "scale": (SCALES, None),
}


def number_words(n: int) -> str:
    """0..9999 in words, the way people say them ("nineteen eighty four")."""
    if n < 10:
        return ONES[n]
    if n < 20:
        return TEENS[n - 10]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        head = ONES[n // 100] + " hundred"
        return head if rest == 0 else head + " " + number_words(rest)
    if 1100 <= n < 10000 and n % 100 and random.random() < 0.8:
        # years and street numbers are said in pairs
        high, low = divmod(n, 100)
        return number_words(high) + " " + ("oh " + ONES[low] if low < 10 else number_words(low))
    thousands, rest = divmod(n, 1000)
    head = number_words(thousands) + " thousand"
    return head if rest == 0 else head + " " + number_words(rest)


def spoken_digits(digits: str, rng: random.Random) -> str:
    """Say a digit string: "five five five", "double five", "oh" for zero."""
    words: list[str] = []
    i = 0
    while i < len(digits):
        ch = digits[i]
        if not ch.isdigit():
            words.append(rng.choice([",", "", "dash"]) if ch in "-" else "")
            i += 1
            continue
        run = 1
        while i + run < len(digits) and digits[i + run] == ch:
            run += 1
        word = "oh" if ch == "0" and rng.random() < 0.6 else ONES[int(ch)]
        if run >= 2 and rng.random() < 0.5:
            take = 3 if run >= 3 and rng.random() < 0.4 else 2
            words.append(("triple " if take == 3 else "double ") + word)
            i += take
            continue
        words.append(word)
        i += 1
    out = " ".join(w for w in words if w)
    return out.replace(" ,", ",")


class Generator:
    """Builds one labelled example at a time from weighted template families."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        random.seed(seed)
        # one Faker per locale, seeded in list order (a set's order changes per run)
        self.fakers = {loc: Faker(loc) for loc in dict.fromkeys(LOCALES)}
        for i, fk in enumerate(self.fakers.values()):
            fk.seed_instance(seed + i)
        self.us = self.fakers["en_US"]

    # ---- values -------------------------------------------------------
    def faker(self) -> Faker:
        return self.fakers[self.rng.choice(LOCALES)]

    def first(self) -> str:
        return self.faker().first_name()

    def last(self) -> str:
        r = self.rng.random()
        base = self.faker().last_name()
        if r < 0.08:
            return base + "-" + self.faker().last_name()
        if r < 0.14:
            return self.rng.choice(["O'", "D'", "Mc", "Mac", "De la ", "Van ", "St. "]) + self.us.last_name()
        return base

    def name(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            return f"{self.first()} {self.last()}"
        if r < 0.55:
            return f"{self.first()} {self.rng.choice(string.ascii_uppercase)}. {self.last()}"
        if r < 0.62:
            return f"{self.rng.choice(string.ascii_uppercase)}. {self.last()}"
        if r < 0.66:
            return f"{self.first()} {self.last()[0]}."
        if r < 0.72:
            return f"{self.last()}, {self.first()}"
        if r < 0.85:
            return self.first()
        return self.last()

    def location(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.us.city()
        if r < 0.75:
            return f"{self.us.city()}, {self.rng.choice([self.us.state_abbr(), self.us.state()])}"
        if r < 0.85:
            return self.rng.choice(["Lawrence", "Quincy", "Worcester", "Dorchester", "Brookline",
                                    "Springfield", "Salem", "Lowell", "the Bronx", "Brooklyn"])
        return self.faker().city()

    def street(self) -> str:
        return f"{self.rng.randint(1, 9999)} {self.us.last_name()} {self.rng.choice(STREET_SUFFIX)}"

    def address(self) -> str:
        r = self.rng.random()
        street = self.street()
        if r < 0.3:
            return street
        if r < 0.45:
            return f"{street} {self.rng.choice(['Apt', 'Apt.', 'Unit', '#', 'Suite'])} {self.rng.randint(1, 40)}{self.rng.choice(['', 'B', 'C'])}"
        if r < 0.85:
            return f"{street}, {self.us.city()}, {self.us.state_abbr()} {self.us.zipcode()}"
        return self.faker().address().replace("\n", ", ")

    def org(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            place = self.rng.choice([self.us.last_name(), self.us.city(), "St. " + self.us.first_name(),
                                     "Saint " + self.us.first_name(), self.us.street_name().split()[0]])
            return f"{place} {self.rng.choice(ORG_SUFFIX)}"
        if r < 0.55:
            return f"{self.rng.choice(['St.', 'Saint', 'St'])} {self.us.first_name()}'s" + self.rng.choice(["", " Hospital", " Clinic"])
        if r < 0.7:
            return self.rng.choice(ORG_FIXED)
        return self.faker().company()

    def date(self) -> str:
        d = self.us.date_between(start_date="-90y", end_date="+1y")
        m = MONTHS[d.month - 1]
        suffix = "th" if 10 <= d.day % 100 < 20 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
        return self.rng.choice([
            f"{d.month}/{d.day}/{d.year}", f"{d.month:02d}/{d.day:02d}/{d.year}",
            f"{d.month}/{d.day}/{d.year % 100:02d}", f"{d.month}/{d.day}", f"{d.year}-{d.month:02d}-{d.day:02d}",
            f"{m} {d.day}, {d.year}", f"{m} {d.day}", f"{d.day} {m[:3]} {d.year}", f"{m[:3]} {d.day}",
            f"{d.day}.{d.month}.{d.year}", f"{m} {d.day}{suffix}", f"{d.month}-{d.day}-{d.year}",
            f"{m[:3]} {d.day}{suffix}, {d.year}", f"{d.day}{suffix} {m} {d.year}", f"{m} {d.year}",
            f"{m[:3]}. {d.day}, {d.year}", f"{d.day}-{m[:3]}-{d.year}",
        ])

    def spoken_date(self) -> str:
        d = self.us.date_between(start_date="-90y", end_date="+1y")
        m = MONTHS[d.month - 1]
        day = ORDINALS[d.day - 1]
        year = number_words(d.year)
        return self.rng.choice([f"{m} {day} {year}", f"{m} {day}", f"the {day} of {m}",
                                f"the {day} of {m} {year}", f"{m} {number_words(d.day)} {year}"])

    def phone(self) -> str:
        a, b, c = self.rng.randint(201, 989), self.rng.randint(200, 999), self.rng.randint(0, 9999)
        return self.rng.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}",
                                f"{a} {b} {c:04d}", f"+1 {a} {b} {c:04d}", f"1-{a}-{b}-{c:04d}",
                                f"{a}{b}{c:04d}", f"{b}-{c:04d}", f"{a}-{b}-{c:04d} ext {self.rng.randint(1, 999)}"])

    def ssn(self) -> str:
        a, b, c = self.rng.randint(1, 899), self.rng.randint(1, 99), self.rng.randint(1, 9999)
        return self.rng.choice([f"{a:03d}-{b:02d}-{c:04d}", f"{a:03d} {b:02d} {c:04d}", f"{a:03d}{b:02d}{c:04d}"])

    def mrn(self) -> str:
        n = self.rng.randint(4, 10)
        digits = "".join(self.rng.choice(string.digits) for _ in range(n))
        prefix = "".join(self.rng.choice(string.ascii_uppercase) for _ in range(self.rng.randint(1, 3)))
        return self.rng.choice([digits, digits, f"MRN{digits}", f"{prefix}-{digits}", f"{prefix}{digits}",
                                f"{digits}-{prefix}", f"#{prefix}-{digits}",
                                f"{digits[:3]}-{digits[3:]}" if n > 5 else digits])

    def ident(self) -> str:
        letters = "".join(self.rng.choice(string.ascii_uppercase) for _ in range(self.rng.randint(1, 4)))
        digits = "".join(self.rng.choice(string.digits) for _ in range(self.rng.randint(5, 12)))
        return self.rng.choice([f"{letters}{digits}", digits, f"{letters}-{digits}", f"{digits[:4]}-{digits[4:]}",
                                f"#{letters}-{digits}", f"{digits[:3]}-{digits[3:6]}-{digits[6:]}" if len(digits) > 7 else digits,
                                f"{letters}{digits[:3]} {digits[3:]}"])

    def email(self) -> str:
        user = self.rng.choice([
            f"{self.us.first_name()}.{self.us.last_name()}", f"{self.us.first_name()[0]}{self.us.last_name()}",
            f"{self.us.user_name()}", f"{self.us.first_name()}{self.rng.randint(1, 99)}"]).lower()
        domain = self.rng.choice(EMAIL_DOMAINS + [self.us.domain_name()])
        return f"{user}@{domain}"

    def url(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.us.url() + self.rng.choice(["", "patient/" + str(self.rng.randint(100, 99999)), "profile"])
        if r < 0.75:
            return f"www.{self.us.domain_name()}"
        return f"https://{self.us.domain_name()}/{self.us.user_name()}"

    def age(self) -> int:
        return self.rng.randint(90, 106) if self.rng.random() < 0.4 else self.rng.randint(1, 89)

    # ---- templates ----------------------------------------------------
    def slot(self, name: str, spoken: bool) -> tuple[str, str | None]:
        """Value and label for a template slot."""
        rng = self.rng
        if name in LIST_SLOTS:
            values, label = LIST_SLOTS[name]
            return rng.choice(values), label
        if name == "NAME":
            return self.name(), "NAME"
        if name == "FULL":
            return f"{self.first()} {self.last()}", "NAME"
        if name == "FIRST":
            return self.first(), "NAME"
        if name == "LAST":
            return self.last(), "NAME"
        if name == "LOC":
            return self.location(), "LOCATION"
        if name == "ADDR":
            if spoken and rng.random() < 0.5:
                return f"{number_words(rng.randint(1, 9999))} {self.us.last_name()} {rng.choice(['street', 'avenue', 'road', 'lane', 'drive'])}", "ADDRESS"
            return self.address(), "ADDRESS"
        if name == "ORG":
            return self.org(), "ORGANIZATION"
        if name == "DATE":
            return (self.spoken_date() if spoken and rng.random() < 0.6 else self.date()), "DATE"
        if name == "AGE":
            # Safe Harbor: only ages over 89 identify; younger ages are negatives.
            age = self.age()
            text = number_words(age) if spoken or rng.random() < 0.2 else str(age)
            return text, ("AGE" if age >= 90 else None)
        if name in ("PHONE", "SSN", "MRN", "ID"):
            value = {"PHONE": self.phone, "SSN": self.ssn, "MRN": self.mrn, "ID": self.ident}[name]()
            if spoken and any(c.isdigit() for c in value) and not any(c.isalpha() for c in value):
                value = spoken_digits(value, rng)
            return value, name
        if name == "EMAIL":
            value = self.email()
            if spoken and rng.random() < 0.6:
                value = value.replace(".", " dot ").replace("@", " at ")
            return value, "EMAIL"
        if name == "URL":
            return self.url(), "URL"
        if name == "SDATE":
            # month/day as notes write it ("7/2", "12/24"), no year
            d = self.us.date_between(start_date="-3y", end_date="+30d")
            # (never "m-d": notes write ranges that way, "HR 80-95")
            form = rng.choice(["{m}/{d}", "{m}/{d}", "{m:02d}/{d:02d}", "{m}/{d}/{y:02d}"])
            return form.format(m=d.month, d=d.day, y=d.year % 100), "DATE"
        if name == "INIT":
            # clinician / staff initials: "JS", "MK" (dotted forms look like
            # "p.o." / "b.i.d." and single letters like "R", so not those)
            letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.choice([2, 2, 3])))
            while letters in CLINICAL_SHORTHAND:
                letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
            return letters, "NAME"
        if name == "FAC":
            # an outside facility by its initials or short name ("NWH", "St. Luke's")
            if rng.random() < 0.6:
                letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.choice([2, 3, 3, 4])))
                while letters in CLINICAL_SHORTHAND:
                    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(3))
                return letters + rng.choice(["", "", "", "H", "MC"]), "ORGANIZATION"
            return rng.choice([self.us.last_name(), self.us.city(), "St. " + self.us.first_name() + "'s",
                               rng.choice(TOWNS)]), "ORGANIZATION"
        if name == "WARD":
            # a hospital building / ward by name, followed by its floor ("Baker 4")
            return self.us.last_name(), "LOCATION"
        if name == "floor":
            return str(rng.randint(1, 14)) + rng.choice(["", "", "", "A", "B"]), None
        if name == "mil":
            return f"{rng.randint(0, 23):02d}{rng.choice([0, 0, 15, 30, 45]):02d}", None
        if name == "frac":
            return rng.choice([f"{rng.randint(0, 5)}/5", f"{rng.randint(0, 10)}/10", f"{rng.randint(1, 4)}/6",
                               f"{rng.randint(1, 3)}/{rng.randint(2, 4)}", "1/2", "2/2", "1/4", "3/4"]), None
        if name == "n":
            return str(rng.choice([1, 2, 5, 10, 12.5, 20, 25, 40, 50, 81, 100, 250, 325, 500, 650, 1000])), None
        if name in ("h", "pain"):
            return str(rng.randint(1, 12)), None
        if name in ("hr",):
            return str(rng.randint(48, 140)), None
        if name == "bp":
            return f"{rng.randint(90, 190)}/{rng.randint(50, 110)}", None
        if name == "temp":
            return rng.choice(["98.6", "37.2", "101.3", "99.1", "38.5"]), None
        if name == "sat":
            return str(rng.randint(86, 100)), None
        if name == "a1c":
            return f"{rng.randint(4, 13)}.{rng.randint(0, 9)}", None
        if name == "ldl":
            return str(rng.randint(40, 400)), None
        if name in ("time", "time2"):
            return rng.choice(["8am", "9:30", "noon", "3 pm", "14:00", "7:15 in the morning", "six thirty"]), None
        if name == "weekday":
            return rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next week", "tomorrow"]), None
        if name == "icd":
            return rng.choice(["E11.9", "I10", "J44.1", "N18.3", "F32.A"]), None
        if name == "cpt":
            return rng.choice(["99213", "99214", "93000", "80053"]), None
        raise KeyError(name)

    def render(self, template: str, spoken: bool) -> tuple[str, list[list]]:
        text = ""
        spans: list[list] = []
        for part in re.split(r"(\{[A-Za-z0-9]+\})", template):
            if part.startswith("{") and part.endswith("}"):
                value, label = self.slot(part[1:-1], spoken)
                if label is not None:
                    spans.append([len(text), len(text) + len(value), label])
                text += value
            else:
                text += part
        return text, spans


# Our own phrasings (voice agent calls, chat to an assistant, clinical notes).
POSITIVES = [
    "Hi, this is {FULL}, I'm calling about my prescription.",
    "My name is {FULL} and my date of birth is {DATE}.",
    "Can you look up {NAME}? Born {DATE}, MRN {MRN}.",
    "{TITLE} {LAST} saw the patient on {DATE} at {ORG}.",
    "Pt seen by {TITLE} {LAST}; plan discussed with {REL} {FIRST}.",
    "The patient's {REL}, {FULL}, can be reached at {PHONE}.",
    "I live at {ADDR}.",
    "Please send the records to {ADDR}.",
    "She was transferred from {ORG} in {LOC} on {DATE}.",
    "{AGE} year old male presenting with chest pain, referred by {TITLE} {LAST}.",
    "{AGE} y/o F with history of {disease}, lives in {LOC} with her {REL}.",
    "Patient is {AGE} years old, DOB {DATE}.",
    "My social is {SSN}.",
    "Social security number {SSN}, member ID {ID}.",
    "Insurance is {ORG}, policy number {ID}, group {ID}.",
    "You can email me at {EMAIL} or call {PHONE}.",
    "Reach {TITLE} {LAST}'s office at {PHONE}.",
    "Medical record number {MRN} for {FULL}.",
    "MRN: {MRN}  Name: {NAME}  DOB: {DATE}",
    "Account {ID} has a balance of ${n}.",
    "Check the portal at {URL} for your results.",
    "Discharged home to {LOC} on {DATE} with {REL} {FULL}.",
    "{FULL} works at {ORG} as a nurse.",
    "Follow-up appointment with {TITLE} {FULL} at {ORG} on {DATE}.",
    "Called {REL} {FIRST} at {PHONE}, no answer, left message.",
    "He moved from {LOC} to {LOC} last year.",
    "We're at {ADDR}, the blue house on the corner.",
    "yeah it's {FULL} {FULL} is my {REL}",
    "Summarize the visit for {NAME} ({AGE}M) seen {DATE} at {ORG}.",
    "Draft a letter to {TITLE} {FULL} at {ORG}, {ADDR}, about {FIRST}'s referral.",
    "Spoke with {FIRST} {LAST} from {ORG} regarding prior authorization {ID}.",
    "Pharmacy: {ORG}, {ADDR}, phone {PHONE}.",
    "Emergency contact: {FULL} ({REL}) {PHONE}",
    "the member id on the card is {ID}",
    "the phone number is {PHONE}",
    "my number is {PHONE} and my email is {EMAIL}",
    "date of birth {DATE}",
    "I was born on {DATE} in {LOC}.",
    "{FIRST} has been taking {drug} since {DATE}.",
    "Admitted {DATE}, discharged {DATE}.",
    "Seen in {ORG} ED on {DATE} for a fall.",
    "Ms. {LAST} is a {AGE}-year-old woman from {LOC}.",
    "Mr. {LAST} states his son {FIRST} will pick him up.",
    "Spoke to {FIRST} at the front desk of {ORG}.",
    "Case manager {FULL} arranged VNA from {ORG}.",
    "Her ssn is {SSN} and mrn {MRN}.",
    "Confirming: {FULL}, {DATE}, {ADDR}, {PHONE}.",
    "Patient {FULL}, MRN {MRN}, admitted to {ORG} on {DATE} from {LOC}.",
    "Send the invoice to {EMAIL}, attention {FULL}.",
    "Dr. {LAST} and Dr. {LAST} agree with the plan.",
    "Attending: {TITLE} {FULL}. Resident: {TITLE} {LAST}.",
    "Transferred to {ORG} rehab in {LOC}.",
    "Lives alone in {LOC}; daughter {FIRST} visits on weekends.",
    "Her {REL} {FIRST} {LAST} called at {time} asking for an update.",
    "Is {FIRST} still at {ADDR}?",
    "Please verify the caller: name {FULL}, date of birth {DATE}, last four of social {SSN}.",
    "Website {URL}, fax {PHONE}.",
    "i'm {FIRST} i'm {AGE} and i live in {LOC}",
    "Next of kin {FULL}, {ADDR}.",
    "On {DATE} the patient underwent surgery at {ORG}.",
    "Claim number {ID} was denied by {ORG}.",
    "My daughter's name is {FIRST} and she's {AGE}.",
    "He is an {AGE} year old retired teacher from {LOC}.",
    "What dose of {drug} would you suggest for {NAME}, {AGE}, seen at {ORG} on {DATE}?",
    "Summarize the chart for {NAME} (MRN {MRN}) before the {DATE} visit.",
    "Any interactions between {drug} and {drug2} for my patient {NAME}, DOB {DATE}?",
    "Write a prior auth letter for {NAME}, member {ID}, to {ORG}.",
    "Help me explain {disease} to {FIRST}'s {REL}, who lives in {LOC}.",
    "Can you check whether {NAME} from {LOC} is due for a colonoscopy? Last one {DATE}.",
    "Draft discharge instructions for {NAME}, {AGE}F, admitted {DATE} to {ORG}.",
    "Pt's {REL} {FIRST} in to visit, updated by RN.",
    "Seen by Dr {LAST} this am, plan to transfer to {ORG}.",
    "Will call {REL} at {PHONE} with update.",
    "Family ({REL} {FIRST}) at bedside, aware of plan.",
    "Per {TITLE} {LAST}, hold {drug} tonight.",
    "Pt from {ORG} in {LOC}; {REL} {FULL} is HCP.",
    "Reports fall at home on {DATE}, brought in by {REL}.",
    "Transferred from {ORG} on {DATE} for further workup.",
    "Contact {FULL} at {EMAIL} regarding the {DATE} results.",
    "Her insurance {ORG} member number {ID} expires {DATE}.",
    "Patient portal login is {EMAIL}, site {URL}.",
    "{FULL}'s SSN {SSN} was entered on the intake form.",
    "Can you pull up account number {ID} for {FULL}?",
    "Lab requisition for {NAME}, MRN {MRN}, collected {DATE}.",
    "Referred by {TITLE} {NAME} of {ORG}, {LOC}.",
]


# Systems-based ICU / ward nursing notes: clinical fragments (negatives) with a
# few identifying fragments mixed in. Written for this project.
NOTE_FRAGMENTS: dict[str, list[str]] = {
    "NEURO": ["alert and oriented x3", "MAE", "PERRL", "follows commands", "sedated on propofol {n} mcg/kg/min",
              "restless at times, easily reoriented", "moves all extremities", "GCS {pain}", "no seizure activity",
              "lethargic but arousable", "nods appropriately", "withdraws to painful stimuli",
              "awake, lethargic at times", "somnolent but arousable", "strength 5/5 all ext", "grasps 1/2 on R",
              "weepy at times, emotional support given", "con't to rec'ing ativan prn"],
    "CV": ["NSR {hr}s", "SB {hr}s no ectopy", "afib with RVR {hr}s", "occasional PVCs", "BP {bp} on levophed {a1c} mcg",
           "dopamine at {pain} mcg/kg/min", "milrinone at {a1c}", "amiodarone gtt", "pulses palpable", "CVP {h}",
           "PAD {h}", "CI {a1c}", "K {a1c} repleted with {n} meq KCL", "mag repleted", "a-line dampened, flushed",
           "cordis in place", "swan wedged at {h}", "heparin gtt at {n} units/hr", "PTT {ldl}", "SBP {hr}-{ldl}",
           "nitro gtt titrated off", "neo weaned to off", "HR {hr}-{hr}",
           "heparin @ {n} units/hr", "dopamine @ {pain} mcg/kg/min", "NTG gtt @ {n} mcg/min", "PA {bp}-{bp}",
           "wedge {h}-{hr}", "CO/CI {a1c}/{a1c}", "femoral sheath d/c'd, pressure held", "a-line resited",
           "new aline placed R radial", "con't on amio @ {hr} mg/hr", "SVR {ldl}"],
    "RESP": ["LS clear", "LS coarse, diminished at bases", "crackles bibasilar", "sats {sat}% on {h}L NC",
             "on CPAP 5", "vent AC {h}x500 FIO2 40% PEEP 5", "suctioned for thick tan sputum", "CXR pending",
             "RR {hr}", "nebs given", "upper lobes clear", "ABG {a1c}/{hr}/{ldl}", "extubated to 50% face tent",
             "weaning to CPAP/PS", "ABG 7.{hr}/{hr}/{ldl}/{h}/-{h}", "ETT taped 23 @ lip",
             "bilat bases with crackles", "resp care in to suction", "LL lobe diminished"],
    "GI": ["abd soft, non-tender, +BS", "abd obese, distended", "NPO", "tolerating clears", "TF at goal {hr} cc/hr",
           "OGT to LCS", "no BM", "large loose stool, guaiac neg", "colace and senna given", "hemorrhoids noted",
           "abd firm", "hypoactive bowel sounds", "protonix IV",
           "brown stool, trace guaiac +", "rectal area reddened", "melena x1", "OOB to commode with assist"],
    "GU": ["foley draining clear yellow urine {ldl} cc/hr", "UO adequate", "lasix {n} mg IV with good diuresis",
           "BUN/Cr {hr}/{a1c}", "voiding via commode", "urine amber, sediment noted", "I/O {ldl}/{ldl}",
           "I&O +{a1c}L @ {time}", "NS @ {ldl} cc/hr", "1/2NS @ {ldl}cc/hr", "diuresing well to lasix"],
    "ID": ["afebrile, Tmax {temp}", "vanco and zosyn", "WBC {a1c}", "cultures sent", "levofloxacin IV",
           "on contact precautions", "blood cx x2 pending"],
    "SKIN": ["intact", "coccyx reddened, duoderm applied", "dressing c/d/i", "hickman site clean", "PICC right arm",
             "lido jelly applied", "left groin site soft, no hematoma", "heels elevated",
             "coccyx intact", "groin rash, nystatin applied", "R subclavian cordis site dry"],
    "PAIN": ["morphine {h} mg IV prn with good effect", "percocet x1", "fentanyl patch", "ativan 1 mg for anxiety",
             "denies pain", "c/o incisional pain {pain}/10"],
    "ENDO": ["FS {ldl}, covered per RISS", "insulin gtt at {h} units/hr", "glucose {ldl}"],
    "PLAN": ["cont to monitor", "wean vent as tolerated", "transfer to floor when bed available", "cath lab in am",
             "OR tomorrow", "f/u am labs", "carevue charting reviewed", "to CCU from cath lab", "echo today",
             "OOB to chair", "PT/OT consult", "code status full", "DNR/DNI confirmed"],
}
NOTE_PHI_FRAGMENTS = [
    "seen by Dr {LAST}", "{REL} {FIRST} in to visit", "pt transferred from {ORG}", "{ORG} records requested",
    "call {REL} at {PHONE}", "admitted {DATE}", "surgery {DATE}", "f/u with Dr {LAST} on {DATE}",
    "lives in {LOC} with {REL}", "{TITLE} {LAST} aware", "d/w Dr {LAST} of {ORG}", "DOB {DATE}",
    "{REL} {FULL} is HCP", "last admit {DATE} at {ORG}", "plan d/w {REL} {FIRST} by phone",
    "cath on {DATE}", "{REL} ({FIRST}) phone {PHONE}", "Dr {LAST} paged re: BP", "to {ORG} rehab on {DATE}",
    "home in {LOC}", "PCP Dr {FULL}", "{FIRST} RN aware",
]
# Second family: short dates, initials, outside facilities by initials,
# hospital buildings/wards with a floor, short town names.
NOTE_PHI_SHORT = [
    "cath {SDATE}", "last BM {SDATE}", "echo on {SDATE} EF 30%", "extubated {SDATE}", "CXR {SDATE} unchanged",
    "PICC placed {SDATE}", "abx started {SDATE}", "vanco day 3 ({SDATE})", "intubated {SDATE} for airway protection",
    "s/p CABG {SDATE}", "d/c'd {SDATE}", "blood cx from {SDATE} neg", "line changed {SDATE}", "since {SDATE}",
    "on {SDATE} pt spiked to 101", "trach {SDATE}", "CT head {SDATE} neg", "admitted {SDATE} with CP",
    "seen by {INIT} RN", "per Dr. {INIT}", "{INIT} RN", "RN: {INIT}", "d/w NP {INIT}", "MD {INIT} aware",
    "resp therapy ({INIT}) in to suction", "signed {INIT}", "Dr {LAST}/{INIT} notified", "-{INIT}",
    "team ({INIT}) aware of K", "report given to {INIT}",
    "transferred from {FAC}", "pt from {FAC} ED", "to {FAC} for rehab", "records from {FAC} requested",
    "{FAC} cath on {SDATE}", "d/c to {FAC}", "came in to {FAC} with SOB", "hx per {FAC} records",
    "transferred from {UNIT}", "to {UNIT} when stable", "pt from {UNIT}", "back from {UNIT} at {mil}",
    "called to {UNIT}", "pt to {UNIT} for procedure",
    "transfer to {WARD} {floor}", "bed on {WARD} {floor}", "moved to {WARD} {floor} this am", "from {WARD} {floor}",
    "lives in {TOWN}", "wife {FIRST} from {TOWN}", "{REL} drove in from {TOWN}", "home to {TOWN} with VNA",
    "lives with {REL} in {TOWN}, {LOC}",
]
# Negatives that look like the positives above: fractions, times, "@", devices.
NOTE_NEG_SHORT = [
    "strength {frac} all ext", "pain {frac}", "{frac} murmur", "{frac} sets blood cx pending", "{frac} tab po",
    "edema {pain}+ bilat", "A&O x{pain}", "NS @ {ldl} cc/hr", "{drug} @ {a1c} mcg/kg/min", "pt @ baseline",
    "seen @ bedside", "labs @ {mil}", "turned @ {mil} and {mil}", "meds given @ {mil}", "up in chair @ {mil}",
    "{dev} in place", "{dev} d/c'd", "{dev} site c/d/i", "{dev} flushed", "new {dev} placed",
    "{drug} {n} mg x1", "{drug} given prn", "{drug} held for SBP < 90", "cont {drug} q{h}h",
    "{SH} {SH} {SH}", "{SH}: {SH} {hr}, {SH} {ldl}", "{SH} {frac}, {SH} {a1c}", "{SH} at {mil}", "{SH} d/c'd",
    "f/u {SH} in am", "{SH} neg", "{SH} and {SH} pending", "{SH}/{SH} following", "q{h}h {SH}",
    "HR {hr}-{hr}", "SBP {hr}-{ldl}", "RR {h}-{hr}", "UO {hr}-{ldl} cc/hr", "temp {temp}-{temp}", "sats {sat}-{sat}%",
    "{drug} {n} mg p.o. b.i.d.", "{drug} q.h.s.", "n.p.o. after midnight", "i.v. {drug}", "labs in a.m.",
    "{drug} {n} mg p.o. q.d.", "seen at {time} p.m.", "r/o MI", "s/p fall", "c/o {jar}",
    "{jar}", "{jar} {jar}", "pt {jar}, {jar}", "{jar} overnight", "remains {jar}", "{jar} and {jar} noted",
    "{jar} {SH}", "{SH} {jar} {jar}", "{jar} x{pain}", "{drug} for {jar}", "{jar} improved", "less {jar}",
]


def typo(word: str, rng: random.Random) -> str:
    """One typing slip: drop, double or swap a letter, or cut the word short."""
    i = rng.randint(1, len(word) - 2)
    return rng.choice([
        word[:i] + word[i + 1:], word[:i] + word[i] + word[i:],
        word[:i] + word[i + 1] + word[i] + word[i + 2:], word[: max(3, i + 1)],
    ])


def typo_noise(text: str, spans: list[list], rng: random.Random, rate: float) -> tuple[str, list[list]]:
    """Misspell some words outside entities (notes are typed in a hurry); offsets shift."""
    taken = [(s, e) for s, e, _ in spans]
    out, shift, last = [], [], 0  # shift: (position in old text, cumulative delta)
    delta = 0
    for m in re.finditer(r"[A-Za-z]{4,}", text):
        if rng.random() >= rate or m.group().lower() in TYPO_SKIP:
            continue
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        new = typo(m.group(), rng)
        out.append(text[last:m.start()] + new)
        last = m.end()
        delta += len(new) - len(m.group())
        shift.append((m.end(), delta))
    out.append(text[last:])

    def moved(pos: int) -> int:
        d = 0
        for end, total in shift:
            if end <= pos:
                d = total
        return pos + d

    return "".join(out), [[moved(s), moved(e), lab] for s, e, lab in spans]


def note_example(gen: Generator) -> dict:
    """A systems-based nursing note, often ALL CAPS, with few identifiers."""
    rng = gen.rng
    pieces: list[str] = []
    for system in rng.sample(list(NOTE_FRAGMENTS), rng.randint(2, 6)):
        frags = rng.sample(NOTE_FRAGMENTS[system], rng.randint(1, min(3, len(NOTE_FRAGMENTS[system]))))
        pieces.append(f"{system}: " + rng.choice([", ", "; ", ". "]).join(frags) + ".")
    for _ in range(rng.choice([0, 1, 2, 3])):
        pieces.insert(rng.randint(0, len(pieces)), rng.choice(NOTE_NEG_SHORT) + rng.choice([".", ",", ";", ""]))
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        pool = NOTE_PHI_SHORT if rng.random() < 0.5 else NOTE_PHI_FRAGMENTS
        pieces.insert(rng.randint(0, len(pieces)), rng.choice(pool) + rng.choice([".", ".", ",", ""]))
    text = ""
    spans: list[list] = []
    for piece in pieces:
        if text:
            text += rng.choice([" ", "\n", "  "])
        piece_text, piece_spans = gen.render(piece, spoken=False)
        spans.extend([[s + len(text), e + len(text), lab] for s, e, lab in piece_spans])
        text += piece_text
    text, spans = typo_noise(text, spans, rng, rate=rng.choice([0.0, 0.0, 0.03, 0.06]))
    r = rng.random()
    styled = text.upper() if r < 0.5 else (text.lower() if r < 0.6 else text)
    return {"text": styled if len(styled) == len(text) else text, "spans": spans}


def strip_punct(text: str, spans: list[list]) -> tuple[str, list[list]]:
    """ASR style: drop punctuation outside entities (offsets shift)."""
    inside = [False] * len(text)
    for s, e, _ in spans:
        for i in range(s, e):
            inside[i] = True
    keep = [inside[i] or text[i] not in ",.;:!?()" for i in range(len(text))]
    new_index = []
    count = 0
    for k in keep:
        new_index.append(count)
        count += k
    new_index.append(count)
    out = "".join(c for c, k in zip(text, keep) if k)
    return out, [[new_index[s], new_index[e], lab] for s, e, lab in spans]


def example(gen: Generator) -> dict:
    rng = gen.rng
    spoken = rng.random() < 0.25
    parts: list[tuple[str, list[list]]] = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        pool = NEGATIVES if rng.random() < 0.35 else POSITIVES
        parts.append(gen.render(rng.choice(pool), spoken))
    text = ""
    spans: list[list] = []
    for part_text, part_spans in parts:
        if text:
            text += rng.choice([" ", " ", "\n", "  "])
        spans.extend([[s + len(text), e + len(text), lab] for s, e, lab in part_spans])
        text += part_text
    mode = "upper" if rng.random() < 0.15 else ("lower" if spoken or rng.random() < 0.15 else "keep")
    if spoken or (mode == "lower" and rng.random() < 0.5):
        text, spans = strip_punct(text, spans)
    if mode != "keep":
        # upper()/lower() keep offsets for the scripts used here (checked below)
        styled = text.upper() if mode == "upper" else text.lower()
        text = styled if len(styled) == len(text) else text
    return {"text": text, "spans": spans}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--notes", type=float, default=0.3, help="share of nursing-note examples")
    args = parser.parse_args(argv)
    gen = Generator(args.seed)
    with open(args.out, "w", encoding="utf-8") as fh:
        for _ in range(args.n):
            row = note_example(gen) if gen.rng.random() < args.notes else example(gen)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

