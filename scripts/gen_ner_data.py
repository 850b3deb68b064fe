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

Conversational families (issue #20; the shipped weights predate them too),
weighted by ``--mix`` among the examples that are not nursing notes:

* ``prose``: the original voice-agent / chat / clinician sentences above;
* ``commands``: assistant and messaging requests (call, text, pay, remind,
  schedule, book, share location), typed or said;
* ``travel``: flights, hotels, weather; real cities, "City, ST", city short
  forms and airport codes (NYC, SFO) as LOCATION, days named by an ordinal
  ("on the 13th", "the 2nd of june", "tuesday the 4th") as DATE;
* ``social``: SMS and social posts: handles (@maria_l) as NAME, lower case,
  no punctuation, typos, emoji;
* ``voice``: speech-recogniser transcripts of callers: no case or punctuation,
  fillers ("uh", "um"), repeated words, self-repairs ("john no wait jon smith")
  and spelled names ("chen c h e n", both parts NAME);
* ``directory``: family name first, as lists and records write it ("Lopez,
  Maria", "KIM David");
* ``single``: people called by one name (given names, nicknames, names that are
  also words: "Will", "Grace") anywhere in the sentence;
* ``negatives``: no entity, in the same styles: brands, apps and chain stores
  named as a service or place ("order an uber", "the nearest walgreens"),
  medicines, relation words ("tell mom"), landmarks, states and countries
  alone, relative dates ("in 3 days"), given names used as words ("will do",
  "the grace period"). Each other conversational family also mixes in 20 %
  of these.

Names come from many cultures: the Faker locales above, Latin-script Faker
locales (``WORLD_LOCALES``) and romanised hand lists (``WORLD_NAMES``), with
diacritics dropped in speech and SMS styles; some cities and addresses come
from the world locales too, with their own street and postcode forms.

Train and dev files (same families, different seeds; the dev file is for model
selection only). Faker's output depends on Python's hash seed, so set it to
reproduce a file; ``--mix prose=1`` draws the prose and note families only, as
the generator did before the conversational families::

    PYTHONHASHSEED=0 python scripts/gen_ner_data.py --n 30000 --seed 7 --out /tmp/ner/train.jsonl
    PYTHONHASHSEED=0 python scripts/gen_ner_data.py --n 3000 --seed 99 --out /tmp/ner/dev.jsonl
    python scripts/gen_ner_data.py --n 12000 --seed 1 --notes 0.4 --mix prose=0.5,commands=0.3,voice=0.2 --out x.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from faker import Faker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "addons"))
from masker.detect.vocab.shorthand import CLINICAL_SHORTHAND  # noqa: E402

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

# ---- conversational families (issue #20): values ------------------------
# Faker locales whose names are written in Latin script, for names from many
# cultures; scripts Faker only writes natively (Chinese, Korean, Japanese,
# Vietnamese without diacritics, Arabic, ...) come from WORLD_NAMES below.
WORLD_LOCALES = ["en_IN", "tr_TR", "pl_PL", "nl_NL", "sv_SE", "fi_FI", "yo_NG", "en_NG", "sw", "id_ID", "es_MX",
                 "hu_HU", "zu_ZA", "ga_IE", "pt_PT", "cs_CZ", "ro_RO", "hr_HR", "lt_LT", "da_DK", "no_NO"]
# Romanised given names and family names, as people write them in English text.
# "family_first": share of full names written family name first ("Nguyen Thi Lan").
WORLD_NAMES: dict[str, dict] = {
    "zh": {"given": "Wei Fang Jing Min Jun Lei Yan Hui Xin Yi Hao Jie Ming Tao Chao Qiang Ling Mei Xiaoming "
                    "Jianguo Zihan Yuxuan Haoran Zixuan Yichen Ruoxi Shufen Kaiwen Siu-Ming Ka-Wai Xiuying "
                    "Lina Peng Bo Yun Zhen Qing".split(),
           "family": "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao Zheng "
                     "Liang Xie Tang Song Feng Deng Han Cao Zeng Xiao Tian Dong Pan Yuan Cai Jiang Du Ye Cheng "
                     "Su Ding Ren Shen Yao Cui Zhong Tan Fan Qian Fu Kong Mao Qiu Wong Chan Leung Cheung Ng "
                     "Chow Lam Tsang Yip Lau".split(), "family_first": 0.3},
    "ko": {"given": "Min-jun Seo-yeon Ji-woo Ha-eun Do-yoon Ji-ho Soo-jin Hye-jin Jae-won Eun-ji Min-seo "
                    "Sung-min Young-ho Jisoo Hyun-woo Ye-jin Dong-hyun Minji Jiwon Seojun Taeyang Hana".split(),
           "family": "Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Oh Seo Shin Kwon Hwang Ahn Song Yoo Hong "
                     "Jeon Ko Moon Son Bae Baek Heo Nam Noh Ryu".split(), "family_first": 0.3},
    "ja": {"given": "Haruto Yui Sota Hina Yuto Aoi Riku Mei Ren Sakura Kenji Yuki Hiroshi Akiko Takeshi Naoko "
                    "Kazuki Emi Daichi Misaki Shota Ayumi Kaito Rin Haruka Kenta".split(),
           "family": "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada "
                     "Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Mori Abe Ikeda Hashimoto Ishikawa "
                     "Ogawa Fujita Okada Goto Hasegawa Murakami Kondo Saito Sakamoto".split(), "family_first": 0.1},
    "vi": {"given": "Anh Minh Linh Huong Thao Trang Tuan Hung Duc Thanh Phuong Lan Hoa Quang Khanh Bao Ngoc "
                    "Long Hai Vy Thu Nam Dung Hanh Tien Chau Trinh Quynh".split(),
           "family": "Nguyen Tran Le Pham Hoang Huynh Phan Vu Vo Dang Bui Do Ho Ngo Duong Ly Truong Dinh Lam "
                     "Mai Trinh".split(), "family_first": 0.5, "middle": "Thi Van Minh Thanh Ngoc Duc".split()},
    "ar": {"given": "Mohammed Ahmed Ali Omar Yusuf Fatima Aisha Layla Mariam Hassan Hussein Khalid Nour Rania "
                    "Samir Tariq Zainab Ibrahim Karim Amira Salma Youssef Hamza Leila Rami Dalia".split(),
           "family": "Haddad Khalil Nasser Saleh Mansour Hamdan Abdullah Rahman Farouk Aziz Qureshi Siddiqui "
                     "El-Sayed Al-Masri Darwish Haidari Khoury Saad Bakri Shalabi Nassar".split(), "family_first": 0},
    "ph": {"given": "Maricel Jomar Rhea Jhun Lorna Arnel Marites Jonel Czarina Kristine Rowena Dindo Jovelyn "
                    "Rodel Analyn".split(),
           "family": "Santos Reyes Cruz Bautista Ocampo Mendoza Dela Cruz Villanueva Aquino Ramos Castillo Manalo "
                     "Lacson Dimaculangan Macaraeg Pangilinan Tolentino Soriano".split(), "family_first": 0},
    "ea": {"given": "Abdi Hodan Faisal Ayaan Warsame Tesfaye Abebe Girma Mekdes Selam Haile Hamdi Ifrah Dawit "
                    "Tigist".split(),
           "family": "Warsame Tesfaye Bekele Alemu Haile Mohamud Abdullahi Osman Gebre Tadesse Hussein Jama "
                     "Farah Yusuf".split(), "family_first": 0},
    "ru": {"given": "Dmitri Olga Natasha Sergei Yulia Anastasia Igor Svetlana Oksana Andriy Mykola Iryna "
                    "Alexei Tatiana Vladimir Katya".split(),
           "family": "Ivanov Petrova Smirnov Kuznetsova Popov Sokolov Volkova Novikov Morozov Pavlenko Shevchenko "
                     "Kovalenko Bondarenko Tkachenko Orlova Lebedev".split(), "family_first": 0},
}
NICKNAMES = ("Mike Jen Jess Liz Beth Tom Tony Bobby Rob Bill Kate Katie Sam Alex Chris Nick Matt Dave Steve Danny "
             "Nate Becca Abby Meg Maddie Ally Jojo Teddy Benny Manny Lupe Chuy Memo Paco Pepe Lalo Gabi Vero "
             "Nico Dani Sasha Misha Kolya Raj Sonu Pinky Bunty Babs Trish Deb Barb Cathy Gigi Tash Mo Dee Jay "
             "Kenny Vinny Sully Bri Lexi Sol Tati Rafa Santi Juanito Charlie Freddie Archie Ollie Millie "
             "Pammy Trini Chito Nene Boo Bubba Junior").split()
# Given names that are also ordinary words: as names in some sentences, as
# words in the negatives (WORD_NEGATIVES), so the context decides.
WORD_NAMES = ("Will Bill May June Grace Rose Mark Pat Sue Frank Drew Faith Hope Joy Summer Dawn Amber Ruby Hunter "
              "Max Jack Ray Chase Sky Brook Cliff Art Dean Grant Carol Iris Ivy Lily Daisy Autumn Angel Penny Rob "
              "Gene Guy Eve Robin Jade Mercy Sunny Destiny Crystal Bob Sandy Rusty Buck Chip Hank Holly "
              "Heather April Dusty Bunny Earl Major Royal Precious Miracle Harmony").split()
# Real US cities with their state (LOCATION as "City" or "City, ST").
US_CITIES: list[tuple[str, str]] = [("Seattle", "WA"), ("Austin", "TX"), ("Tulsa", "OK"), ("Denver", "CO"),
    ("Boston", "MA"), ("Chicago", "IL"), ("Houston", "TX"), ("Phoenix", "AZ"), ("Portland", "OR"),
    ("Atlanta", "GA"), ("Miami", "FL"), ("Dallas", "TX"), ("San Diego", "CA"), ("San Antonio", "TX"),
    ("San Jose", "CA"), ("Sacramento", "CA"), ("Fresno", "CA"), ("Oakland", "CA"), ("El Paso", "TX"),
    ("Albuquerque", "NM"), ("Tucson", "AZ"), ("Las Vegas", "NV"), ("Salt Lake City", "UT"), ("Boise", "ID"),
    ("Spokane", "WA"), ("Tacoma", "WA"), ("Omaha", "NE"), ("Kansas City", "MO"), ("St. Louis", "MO"),
    ("Memphis", "TN"), ("Nashville", "TN"), ("Louisville", "KY"), ("Indianapolis", "IN"), ("Columbus", "OH"),
    ("Cleveland", "OH"), ("Cincinnati", "OH"), ("Detroit", "MI"), ("Milwaukee", "WI"), ("Minneapolis", "MN"),
    ("St. Paul", "MN"), ("Des Moines", "IA"), ("Madison", "WI"), ("Pittsburgh", "PA"), ("Philadelphia", "PA"),
    ("Baltimore", "MD"), ("Richmond", "VA"), ("Raleigh", "NC"), ("Durham", "NC"), ("Charlotte", "NC"),
    ("Charleston", "SC"), ("Savannah", "GA"), ("Jacksonville", "FL"), ("Tampa", "FL"), ("Orlando", "FL"),
    ("Birmingham", "AL"), ("New Orleans", "LA"), ("Baton Rouge", "LA"), ("Little Rock", "AR"),
    ("Oklahoma City", "OK"), ("Wichita", "KS"), ("Lubbock", "TX"), ("Fort Worth", "TX"), ("Plano", "TX"),
    ("Anchorage", "AK"), ("Honolulu", "HI"), ("Buffalo", "NY"), ("Rochester", "NY"), ("Syracuse", "NY"),
    ("Albany", "NY"), ("Hartford", "CT"), ("Providence", "RI"), ("Newark", "NJ"), ("Jersey City", "NJ"),
    ("Long Beach", "CA"), ("Pasadena", "CA"), ("Anaheim", "CA"), ("Irvine", "CA"), ("Bakersfield", "CA"),
    ("Reno", "NV"), ("Scottsdale", "AZ"), ("Chandler", "AZ"), ("Fort Collins", "CO"), ("Boulder", "CO"),
    ("Eugene", "OR"), ("Bend", "OR"), ("Olympia", "WA"), ("Burlington", "VT"), ("Asheville", "NC"),
    ("Knoxville", "TN"), ("Chattanooga", "TN"), ("Lexington", "KY"), ("Dayton", "OH"), ("Toledo", "OH"),
    ("Grand Rapids", "MI"), ("Ann Arbor", "MI"), ("Lansing", "MI"), ("Peoria", "IL"), ("Joliet", "IL"),
    ("Naperville", "IL"), ("Evanston", "IL"), ("Green Bay", "WI"), ("Fargo", "ND"), ("Sioux Falls", "SD"),
    ("Billings", "MT"), ("Cheyenne", "WY"), ("Santa Fe", "NM"), ("Chula Vista", "CA"), ("Modesto", "CA"),
    ("Stockton", "CA"), ("Santa Rosa", "CA"), ("Riverside", "CA"), ("Fort Lauderdale", "FL"), ("Boca Raton", "FL"),
    ("Gainesville", "FL"), ("Tallahassee", "FL"), ("Pensacola", "FL"), ("Montgomery", "AL"), ("Shreveport", "LA"),
    ("Corpus Christi", "TX"), ("Laredo", "TX"), ("McAllen", "TX"), ("Amarillo", "TX"), ("Round Rock", "TX"),
    ("Frisco", "TX"), ("Alexandria", "VA"), ("Norfolk", "VA"), ("Virginia Beach", "VA"), ("Annapolis", "MD"),
    ("Wilmington", "DE"), ("Trenton", "NJ"), ("Yonkers", "NY"), ("Stamford", "CT"), ("New Haven", "CT"),
    ("Worcester", "MA"), ("Cambridge", "MA"), ("Somerville", "MA"), ("Manchester", "NH"), ("Portsmouth", "NH"),
    ("Bangor", "ME"), ("Flagstaff", "AZ"), ("Yakima", "WA"), ("Redding", "CA"), ("Gallup", "NM"), ("Tupelo", "MS"),
    ("Hialeah", "FL"), ("Kalamazoo", "MI"), ("Duluth", "MN"), ("Missoula", "MT"), ("Bozeman", "MT"),
    ("Laramie", "WY"), ("Provo", "UT"), ("Ogden", "UT"), ("Macon", "GA"), ("Athens", "GA"), ("Mobile", "AL"),
    ("Biloxi", "MS"), ("Topeka", "KS"), ("Lawrence", "KS"), ("Springfield", "MO"), ("Joplin", "MO"),
    ("Waco", "TX"), ("Killeen", "TX"), ("Brooklyn", "NY"), ("Queens", "NY"), ("Harlem", "NY"), ("Fremont", "CA"),
    ("Hayward", "CA"), ("Berkeley", "CA"), ("Palo Alto", "CA")]
WORLD_CITIES = ["London", "Paris", "Toronto", "Vancouver", "Montreal", "Guadalajara", "Monterrey", "Tijuana",
                "Manila", "Cebu", "Mumbai", "Delhi", "Bangalore", "Chennai", "Lagos", "Abuja", "Nairobi", "Accra",
                "Seoul", "Busan", "Tokyo", "Osaka", "Beijing", "Shanghai", "Shenzhen", "Hanoi", "Dublin", "Berlin",
                "Madrid", "Lisbon", "Rome", "Warsaw", "Krakow", "Istanbul", "Cairo", "Dubai", "Karachi", "Lahore",
                "Dhaka", "Bogota", "Lima", "Kingston", "Havana", "Kyiv", "Addis Ababa", "Mogadishu", "Taipei",
                "Jakarta", "Bangkok"]
# Short forms people type or say for cities, and airport codes: LOCATION.
CITY_SHORT = ["NYC", "LA", "SF", "DC", "Philly", "Vegas", "NOLA", "the Bay Area", "Chi-town", "ATX", "Nashvegas"]
AIRPORTS = ("LAX SFO JFK ORD ATL DFW DEN SEA BOS MIA PHX IAH EWR LGA MSP DTW PDX SLC MCO CLT PHL BWI HNL OAK SJC "
            "BNA STL MSY RDU TPA FLL DCA IAD MDW HOU SMF SNA BUR ABQ ANC YYZ LHR CDG MEX").split()
# Not PHI on their own (model card: states and countries alone are not tagged).
STATES = ("Texas California Florida Ohio Arizona Oregon Nevada Georgia Michigan Colorado Utah Maine Alaska Hawaii "
          "Montana Vermont Iowa Kansas Kentucky Tennessee Virginia Alabama Idaho").split()
COUNTRIES = ("Mexico Canada Japan Italy Spain France Germany Brazil India Vietnam Korea Peru Greece Portugal "
             "Ireland Iceland Jamaica Colombia Kenya Egypt Thailand Australia").split()
# Famous landmarks and parks: public places, no one's identity.
LANDMARKS = ["the Grand Canyon", "the White House", "Central Park", "the Golden Gate Bridge", "Times Square",
             "the Statue of Liberty", "Disneyland", "Disney World", "Yellowstone", "the Eiffel Tower",
             "Niagara Falls", "Mount Rushmore", "the Space Needle", "the Smithsonian", "the Hollywood sign",
             "the Lincoln Memorial", "Yosemite", "the Alamo", "the Empire State Building", "Pike Place Market"]
# Brands, apps and chain stores named as a product, service or kind of place:
# not about a person (an employer or the patient's pharmacy is ORGANIZATION).
RIDES = ["an uber", "a lyft", "an Uber XL", "a cab", "a taxi", "a Lyft"]
APPS = ["spotify", "netflix", "youtube", "hulu", "instagram", "tiktok", "whatsapp", "waze", "google maps",
        "doordash", "instacart", "uber eats", "pandora", "audible", "duolingo", "zoom", "slack", "apple music"]
ASSISTANTS = ["alexa", "siri", "google", "hey google", "cortana", "bixby"]
STORES = ["walgreens", "cvs", "target", "costco", "trader joe's", "whole foods", "mcdonald's", "chipotle", "ikea",
          "best buy", "safeway", "kroger", "7-eleven", "starbucks", "dunkin", "home depot", "walmart",
          "rite aid", "the gas station", "the post office", "the dmv"]
PAY_APPS = ["venmo", "zelle", "cash app", "paypal", "apple pay"]
# Relation words and roles in the slots where names go: never a NAME.
REL_WORDS = ["mom", "dad", "mama", "papa", "grandma", "grandpa", "nana", "abuela", "my sister", "my brother",
             "my wife", "my husband", "the kids", "my boss", "my landlord", "the babysitter", "my son",
             "my daughter", "auntie", "my uncle", "the neighbors", "my roommate", "babe", "hon", "bestie"]
MESSAGES = ["i'm running late", "i'll be there in 10", "running 5 min behind", "can you grab milk", "call me when you can",
            "on my way", "happy birthday", "dinner's at 7", "i'm outside", "don't forget the tickets", "see you soon",
            "i'll call you back", "the game got cancelled", "leaving now", "traffic is bad", "love you",
            "can we talk later", "got it thanks", "the door code changed", "bring a jacket", "i'm home",
            "meeting ran over", "save me a seat", "pick up some ice"]
ASKS = ["she wants tacos", "he can cover my shift", "they're coming tonight", "she needs a ride", "he got my email",
        "we're still on for friday", "the kids ate", "she's free after 5", "he wants to split an uber"]
TASKS = ["bring the charger", "take out the trash", "call the vet", "pay the rent", "feed the cat", "lock the door",
         "return the library books", "clean the gutters", "book the dentist", "renew the car registration"]
THINGS = ["lunch", "the tickets", "gas", "the concert", "rent", "pizza", "the groceries", "dinner", "the hotel",
          "the gift", "the report", "the invoice"]
AMOUNTS = ["$40", "85 dollars", "20 bucks", "$12.50", "a hundred dollars", "fifty bucks", "$250", "$7",
           "thirty dollars", "$1,200", "15 bucks"]
CLOCKS = ["5", "5pm", "7:30", "noon", "6 tonight", "8 am", "9:15", "half past four", "3", "10:45 am", "midnight"]
# Relative dates and times name no calendar day: not PHI.
RELTIMES = ["tomorrow", "tonight", "later", "in an hour", "this afternoon", "next week", "in 3 days", "on monday",
            "this weekend", "at 5", "after lunch", "in two weeks", "tomorrow morning", "next friday", "today",
            "in a bit", "before noon", "on sunday", "next month", "in ten minutes"]
EMOJI = ["😂", "🙏", "❤️", "😭", "🎉", "👍", "🔥", "😅", "🥺", "💀", "✈️", "🌧️", "☀️", "🤞", "😍", "🙄", "💯"]
FILLERS = ["uh", "um", "uh", "um", "like", "you know", "i mean", "so", "okay", "yeah", "hmm", "er"]
REPAIR_CUES = ["no wait", "sorry", "i mean", "no no", "uh no", "actually", "scratch that", "no sorry i meant"]
VOICE_REASONS = ["my prescription", "my appointment", "my lab results", "a bill", "a referral", "my refill",
                 "my test results", "the forms", "my mother's appointment", "a prior authorization"]

# Template slots filled by one pick from a list: slot -> (values, label or None).
LIST_SLOTS: dict[str, tuple[Sequence[str], str | None]] = {
    "UNIT": (UNITS, None), "TOWN": (TOWNS, "LOCATION"), "dev": (DEVICES, None), "SH": (SHORTHAND, None),
    "jar": (JARGON, None), "TITLE": (TITLES, None), "REL": (RELATIONS, None), "MONTH": (MONTHS, None),
    "drug": (DRUGS, None), "drug2": (DRUGS, None), "disease": (DISEASES, None), "disease2": (DISEASES, None),
    "scale": (SCALES, None),
    "ABBR": (AIRPORTS + CITY_SHORT, "LOCATION"), "AIRPORT": (AIRPORTS, "LOCATION"),
    "STATE": (STATES, None), "COUNTRY": (COUNTRIES, None), "LANDMARK": (LANDMARKS, None), "ride": (RIDES, None),
    "app": (APPS, None), "assistant": (ASSISTANTS, None), "store": (STORES, None), "payapp": (PAY_APPS, None),
    "RELW": (REL_WORDS, None), "msg": (MESSAGES, None), "ask": (ASKS, None), "task": (TASKS, None),
    "thing": (THINGS, None), "amount": (AMOUNTS, None), "clock": (CLOCKS, None), "reltime": (RELTIMES, None),
    "vreason": (VOICE_REASONS, None),
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
        # a separate set, so the families above draw the same values as before it existed
        self.world_fakers = {loc: Faker(loc) for loc in WORLD_LOCALES}
        for i, fk in enumerate(self.world_fakers.values()):
            fk.seed_instance(seed + 100 + i)

    # ---- values -------------------------------------------------------
    def faker(self) -> Faker:
        return self.fakers[self.rng.choice(LOCALES)]

    def world_faker(self) -> Faker:
        return self.world_fakers[self.rng.choice(WORLD_LOCALES)]

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
        if r < 0.93:
            return self.faker().city()
        return self.world_faker().city()

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
        if r < 0.93:
            return self.faker().address().replace("\n", ", ")
        # patients and relatives abroad: the world locales' own street and postcode forms
        # ("Vangsåvej 46, 7706 Them", "13-500 Bydgoszcz")
        return self.world_faker().address().replace("\n", ", ")

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

    # ---- conversational values (issue #20) ----------------------------
    def world_parts(self) -> tuple[str, str, float]:
        """(given, family, share written family-first) from a Latin-script locale or a romanised list."""
        r = self.rng.random()
        if r < 0.45:
            return self.first(), self.last(), 0.0
        if r < 0.75:
            fk = self.world_faker()
            return fk.first_name(), fk.last_name(), 0.0
        culture = WORLD_NAMES[self.rng.choice(list(WORLD_NAMES))]
        given = self.rng.choice(culture["given"])
        if "middle" in culture and self.rng.random() < 0.5:
            given = f"{self.rng.choice(culture['middle'])} {given}"
        return given, self.rng.choice(culture["family"]), culture["family_first"]

    def world_first(self) -> str:
        return self.world_parts()[0]

    def world_last(self) -> str:
        return self.world_parts()[1]

    def world_full(self) -> str:
        given, family, family_first = self.world_parts()
        return f"{family} {given}" if self.rng.random() < family_first else f"{given} {family}"

    def single_name(self) -> str:
        """A person called by one name: given name, nickname or a name that is also a word."""
        r = self.rng.random()
        if r < 0.6:
            return self.world_first()
        return self.rng.choice(NICKNAMES if r < 0.85 else WORD_NAMES)

    def person(self) -> str:
        """A person as casual text names them: mostly one name, often the full name."""
        r = self.rng.random()
        if r < 0.45:
            return self.single_name()
        if r < 0.85:
            return self.world_full()
        if r < 0.92:
            return f"{self.single_name()} {self.world_last()[0]}"
        return f"{self.rng.choice(NICKNAMES)} {self.world_last()}"

    def handle(self) -> str:
        """A social-media handle made from a name ("@maria_l")."""
        given, family = handle_part(self.world_first().split()[-1]), handle_part(self.world_last())
        body = self.rng.choice([f"{given}_{family[0]}", f"{given}{family}", f"{given}.{family}",
                                f"{given}{self.rng.randint(1, 99)}", f"{given[0]}{family}", f"the{given}",
                                f"{given}_{family}_", f"{family}.{given[:3]}"])
        return "@" + body

    def directory_name(self) -> str:
        """A name as lists and records write it, family name first ("Lopez, Maria", "KIM David")."""
        given, family, _ = self.world_parts()
        initial = self.rng.choice(string.ascii_uppercase)
        return self.rng.choice([
            f"{family}, {given}", f"{family}, {given}", f"{family.upper()}, {given.upper()}",
            f"{family.upper()} {given}", f"{family.upper()}, {given}", f"{family}, {given} {initial}.",
            f"{family}, {given[0]}.", f"{family.upper()} {given.upper()}", f"{family} {given}",
            f"{family}-{self.world_last()}, {given}",
        ])

    def city(self) -> str:
        """A real city, sometimes with its state ("Austin" / "Austin, TX")."""
        r = self.rng.random()
        if r < 0.15:
            return self.rng.choice(WORLD_CITIES)
        name, state = self.rng.choice(US_CITIES)
        return f"{name}, {state}" if r < 0.3 else name

    def ordinal_day(self, spoken: bool) -> str:
        """A day of the month as people say it: "13th", "2nd", "thirteenth"."""
        day = self.rng.randint(1, 31)
        if spoken or self.rng.random() < 0.15:
            return ORDINALS[day - 1]
        suffix = "th" if 10 <= day % 100 < 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        return f"{day}{suffix}"

    def named_day(self, spoken: bool) -> list[tuple[str, str | None]]:
        """A date that names a day; an article before it stays outside the span ("the [2nd of june]")."""
        day = self.ordinal_day(spoken)
        month = self.rng.choice(MONTHS)
        month = month[:3] if not spoken and self.rng.random() < 0.25 else month
        weekday = self.rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])
        m, d = self.rng.randint(1, 12), self.rng.randint(1, 28)
        r = self.rng.random()
        if r < 0.3:
            return [(f"{month} {day}", "DATE")]
        if r < 0.45:
            return [("the ", None), (f"{day} of {month}", "DATE")]
        if r < 0.6:
            return [(f"{weekday} the {day}", "DATE")]
        if r < 0.7 and not spoken:
            return [(f"{weekday} {m}/{d}", "DATE")]
        if r < 0.8 and not spoken:
            return [(f"{m}/{d}", "DATE")]
        if r < 0.9:
            return [(f"{month} {d if not spoken else ORDINALS[d - 1]}", "DATE")]
        return [("the ", None), (day, "DATE")]

    def spelled(self) -> list[tuple[str, str | None]]:
        """A name followed by its spelling ("chen c h e n", "smith that's s-m-i-t-h")."""
        name = self.world_last() if self.rng.random() < 0.7 else self.world_first()
        letters = [c for c in name.lower() if c.isalpha()]
        spelling = self.rng.choice([" ", " ", " ", "-", ", "]).join(letters)
        cue = self.rng.choice([" ", " that's ", " spelled ", " it's ", " that is ", " uh "])
        return [(name, "NAME"), (cue, None), (spelling, "NAME")]

    def repaired(self) -> list[tuple[str, str | None]]:
        """A spoken self-correction: a name, a cue, then the name meant ("john no wait jon smith")."""
        first = self.world_first()
        r = self.rng.random()
        if r < 0.4:
            meant = f"{self.variant(first)} {self.world_last()}"
        elif r < 0.7:
            meant = f"{first} {self.world_last()}"
        else:
            meant = self.world_full()
        verb = self.rng.choice(["", "", "call ", "text ", "it's "])
        return [(first, "NAME"), (f" {self.rng.choice(REPAIR_CUES)} {verb}", None), (meant, "NAME")]

    def variant(self, name: str) -> str:
        """Another spelling of a given name, as a recogniser might correct it (John -> Jon)."""
        swaps = [("ph", "f"), ("h", ""), ("y", "i"), ("i", "y"), ("c", "k"), ("k", "c"), ("ie", "y"), ("ee", "i")]
        for old, new in self.rng.sample(swaps, len(swaps)):
            if old in name[1:]:
                return name[0] + name[1:].replace(old, new, 1)
        return name

    def conversational_slot(self, name: str, spoken: bool) -> list[tuple[str, str | None]] | None:
        """Pieces (text, label) for a slot of the conversational families, None for other slots."""
        values = {
            "P": self.person, "SN": self.single_name, "WFULL": self.world_full, "WFIRST": self.world_first,
            "WLAST": self.world_last, "HANDLE": self.handle, "DIR": self.directory_name,
        }
        if name in values:
            return [(values[name](), "NAME")]
        if name == "CITY":
            return [(self.city(), "LOCATION")]
        if name == "ODAY":
            return [(self.ordinal_day(spoken), "DATE")]
        composite = {"ODATE": lambda: self.named_day(spoken), "SPELL": self.spelled, "REPAIR": self.repaired}
        return composite[name]() if name in composite else None

    def pieces(self, name: str, spoken: bool) -> list[tuple[str, str | None]]:
        return self.conversational_slot(name, spoken) or [self.slot(name, spoken)]

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
                for value, label in self.pieces(part[1:-1], spoken):
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


# ---- conversational families (issue #20): templates ----------------------
# Written for this project, in the styles assistants and agents receive. Names
# are in first, middle and last positions; every family also mixes in
# CHAT_NEGATIVES in its own style.
COMMANDS = [
    "call {P} {reltime}", "Call {P} {reltime}.", "call {P}", "give {P} a call {reltime}", "phone {P} at {clock}",
    "call {P}'s cell", "dial {P}", "get {P} on the line", "start a call with {P} and {P}", "call {P} back",
    "call {P} at {PHONE}", "pay {P} {amount}", "pay {P} back {amount} for {thing}", "send {amount} to {P} on {payapp}",
    "{payapp} {P} {amount}", "request {amount} from {P} for {thing}", "transfer {amount} to {P}",
    "did {P} pay me back for {thing}", "i owe {P} {amount}, remind me {reltime}", "text {P} {msg}",
    "text {P} that {msg}", "shoot {P} a text saying {msg}", "send {P} a message: {msg}", "let {P} know {msg}",
    "reply to {P} {msg}", "whatsapp {P} {msg}", "message {P} and {P} {msg}", "tell {P} {msg}",
    "text {RELW} and {P} {msg}", "remind me to text {P} at {clock}", "set a reminder to call {P} {reltime}",
    "remind me about {P}'s party on {ODATE}", "remind me that {P}'s recital is on {ODATE}",
    "don't let me forget {P}'s birthday, it's {ODATE}", "remind me {reltime} to pick up {P} from {ABBR}",
    "remind me to pick up {RELW} from {AIRPORT} at {clock}", "Schedule {P} for {weekday}.",
    "schedule {P} at {clock} on {ODATE}", "book {P} in for {ODATE} at {clock}", "put {P} on my calendar {reltime}",
    "block an hour with {P} on {ODATE}", "move my call with {P} to {ODATE}", "cancel lunch with {P} {reltime}",
    "add a meeting with {P} and {P} on {ODATE}", "pencil in {P} for the {ODAY}", "set up coffee with {P} on {ODATE}",
    "share my location with {P}", "send my location to {P} until {clock}", "stop sharing my location with {P}",
    "send {P} my eta", "share my live location with {P} for an hour", "facetime {P}", "video call {P} {reltime}",
    "hey siri call {P}", "ok google message {P} {msg}", "alexa call {P}", "hey google, remind {P} to {task}",
    "add {WFULL} to my contacts", "save {PHONE} as {P}", "what's {P}'s email", "email {P} at {EMAIL} about {thing}",
    "navigate to {P}'s house", "take me to {ADDR}", "get me a ride to {ADDR}", "mail the card to {P} at {ADDR}",
    "update {P}'s address to {ADDR}", "is {P} free {reltime}", "any missed calls from {P}", "show my texts from {P}",
    "play {P}'s voicemail", "when do i see {TITLE} {WLAST} next", "cancel my appointment with {TITLE} {WLAST} on {ODATE}",
    "reserve a table for four under {P} at {clock}", "ask {P} whether {ask}", "forward the photos to {P}",
    "split dinner with {P} and {P}", "remind {P} to {task}", "{P} gets me at {clock}", "push dinner with {P} to {ODATE}",
    "send happy birthday to {P}", "ping {P} about {thing}", "cc {P} on that email",
    "order a cake for {P}'s party on {ODATE}", "buy a gift for {P}", "find photos of {P} from {CITY}", "who is {P}",
    "the {thing} is for {P}", "{amount} to {P} for {thing}", "block {P}", "add {P} to the group chat",
    "make {P} an emergency contact", "book a massage for {P} on {ODATE}", "book a room in {CITY} for {P} and me",
]
TRAVEL = [
    "flights from {ABBR} to {ABBR} on the {ODAY}", "flights {ABBR} to {AIRPORT} {ODATE}",
    "find a flight from {CITY} to {CITY} {reltime}", "book a flight to {CITY} for {ODATE}",
    "cheapest flight {CITY} to {ABBR} on {ODATE}", "my flight lands at {AIRPORT} at {clock}",
    "is my {CITY} flight on time", "what gate is the flight to {AIRPORT}", "weather in {CITY} this weekend",
    "what's the weather in {CITY}", "is it going to rain in {CITY} {reltime}", "how hot is it in {CITY} right now",
    "forecast for {CITY} on the {ODAY}", "will it snow in {CITY} on {ODATE}", "leaving {CITY} {reltime}",
    "driving from {CITY} to {CITY} {reltime}", "book a hotel in {CITY} from the {ODAY} to the {ODAY}",
    "train to {CITY} on {ODATE}", "rent a car at {AIRPORT} for {P}", "pick up {P} from {AIRPORT} at {clock}",
    "uber to {AIRPORT}", "drive time to {CITY}", "what time is it in {CITY}", "hotels near {AIRPORT}",
    "we land in {CITY} on {ODATE}", "{P}'s flight from {CITY} gets in at {clock}", "book {P} on the {clock} flight to {ABBR}",
    "move my {CITY} trip to {ODATE}", "i'm in {CITY} until the {ODAY}", "trip to {CITY} with {P} on {ODATE}",
    "check in for my flight to {ABBR}", "how far is {CITY} from {CITY}", "traffic to {AIRPORT} right now",
    "air quality in {CITY} today", "restaurants near me in {CITY}", "find a pharmacy open late in {CITY}",
    "bus from {CITY} to {CITY} on {ODATE}", "is {AIRPORT} busy {reltime}", "hourly weather for {CITY}",
    "sunset time in {CITY} on {ODATE}", "layover in {AIRPORT} on the way to {CITY}",
    "my mom's flying into {AIRPORT} from {CITY}", "back from {CITY} on {ODATE}",
]
SOCIAL = [
    "{P} is here!!", "is {P} with u", "ran into {P} at {store} 😂", "{P} just said the funniest thing lmao",
    "who's driving {P} home", "{P} can't make it {reltime}", "k tell {P} thx", "heyyy {P}", "{P} where r u",
    "omfg {P} look at this", "we're at {P}'s come thru", "sleepover at {P}'s?", "{P} got the job!!!",
    "lol {P} ate all the fries", "is {P} mad at me", "{P} im so sorry", "just saw {P} and {P} at the game",
    "{P} n i r going to {CITY}", "in {CITY} till {ODATE}", "back from {CITY} finally", "{HANDLE} check ur dms",
    "lol {HANDLE} called it", "tagging {HANDLE} and {HANDLE}", "ty for the follow {HANDLE}", "{HANDLE} wya",
    "pic cred {HANDLE}", "{P}'s bday party is {ODATE} at {ADDR}", "stuck at {AIRPORT} again", "layover in {AIRPORT} ugh",
    "flying into {ABBR} fri", "{P} from work is hilarious", "my boss {P} is out {reltime}", "{P} from {ORG} called me",
    "guess who's in {CITY} rn", "{P} say hi to ur mom for me", "wish {P} luck tmrw", "{P} has covid again smh",
    "{P}'s new # is {PHONE}", "my new email is {EMAIL}", "{P} lives on {ADDR} now", "gn {P}", "good morning {P}!!",
    "did {P} ever pay u back", "{P} and {P} broke up?!", "the reunion's on the {ODAY} at {P}'s",
    "{P} is visiting from {CITY}", "{P} moved to {CITY} last month", "lunch w {P} {reltime}", "{P} is so extra lol",
    "can't believe {P} said that", "nvm {P} found it", "{P} pls answer ur phone", "{P} is bringing the dip",
    "i'm w {P} at {store}", "{P}'s dog is the cutest", "{P} drove all the way from {CITY}", "we miss u {P}",
    "{P}!!! call me", "text {P} not me lol", "i told {P} ur coming", "{P} wants to know if ur free on the {ODAY}",
    "going to {P}'s on {ODATE}", "it's {P}'s turn to host",
]
VOICE = [
    "hi this is {WFULL} calling about {vreason}", "yeah hi my name is {WFULL}", "my name's {WFIRST} {SPELL}",
    "my last name is {SPELL}", "last name {SPELL} first name {WFIRST}", "first name is {WFIRST} last name {WLAST}",
    "it's {REPAIR}", "call {REPAIR}", "text {REPAIR} {msg}", "i'm calling for my {REL} {WFULL}",
    "i'm calling on behalf of {WFULL}", "this is {WFIRST} from {ORG}", "my date of birth is {DATE}",
    "birthday is {DATE}", "i was born {DATE}", "date of birth {DATE} and my name is {WFULL}", "the number is {PHONE}",
    "you can call me back at {PHONE}", "i live at {ADDR}", "the address is {ADDR} in {CITY}", "i'm in {CITY}",
    "we just moved to {CITY}", "my doctor is doctor {WLAST}", "i saw doctor {WLAST} at {ORG} on {DATE}",
    "my insurance is {ORG} and my member id is {ID}", "my mom is {AGE}", "he's {AGE} years old",
    "she'll be {AGE} on the {ODAY}", "the appointment is on {ODATE}", "can i come in on the {ODAY}",
    "my email is {EMAIL}", "my medical record number is {MRN}", "my {REL} {WFIRST} is gonna pick me up",
    "i need to cancel {WFIRST}'s appointment {reltime}", "is doctor {WLAST} in {reltime}",
    "i'm returning a call from {WFIRST}", "{WFIRST} told me to call this number",
    "can you transfer me to {WFIRST} in billing", "i was at {ORG} on the {ODAY}", "they sent me to {ORG} in {CITY}",
    "my pharmacy is {ORG}", "i had surgery on {DATE} at {ORG}", "it's {WFIRST} again", "it's for my son {WFIRST} he's {AGE}",
    "hey siri call {P} {reltime}", "text {P} {msg}", "remind me to call {P} {reltime}", "navigate to {ADDR}",
    "play the voicemail from {P}",
]
DIRECTORY = [
    "{DIR}", "Patient: {DIR}", "pull up {DIR}", "next up is {DIR}, room {pain}", "{clock} {DIR}; {clock} {DIR}",
    "{DIR} DOB {DATE}", "Contact: {DIR} - {PHONE}", "caller id: {DIR}", "is {DIR} checked in?",
    "open the chart for {DIR}", "{DIR} ({ORG})", "employee: {DIR}, badge {ID}", "From: {DIR} <{EMAIL}>",
    "last name {WLAST}, first name {WFIRST}", "Name (last, first): {DIR}", "{DIR} called re: refill",
    "today's list: {DIR}, {DIR}", "sign-in: {DIR} at {clock}", "{DIR} MRN {MRN}", "roster - {DIR}; {DIR}; {DIR}",
    "guarantor {DIR}, {ADDR}", "emergency contact {DIR} ({REL}) {PHONE}", "{DIR} left a voicemail",
    "add {DIR} to the waitlist", "{DIR} no-show {ODATE}", "reassign {DIR} to {TITLE} {WLAST}", "Attendee: {DIR}",
    "{DIR} | {PHONE} | {EMAIL}", "Signed, {DIR}", "rsvp: {DIR} +1",
]
SINGLE = [
    "{SN} said yes", "ask {SN}", "where's {SN}?", "{SN}'s here", "went with {SN}", "is that {SN}?", "thanks {SN}!",
    "ok {SN}", "love you {SN}", "{SN} and me", "me and {SN} are going", "dinner w/ {SN}", "{SN} wants pizza",
    "sorry {SN}", "{SN}?", "hey {SN} can you help", "good job {SN}", "{SN} is sick today", "did you see {SN}",
    "{SN} called", "bring {SN}", "{SN} can't come", "tell {SN} hi", "{SN} too", "lunch with {SN} at {clock}",
    "{SN} from accounting", "{SN}'s mom called", "this one's for {SN}", "according to {SN} it's fine",
    "as {SN} said", "{SN} will be there", "{SN} may come too", "{SN} says the car is ready", "pls ask {SN} first",
    "waiting on {SN}", "{SN} left early", "{SN} is my favorite", "{SN}, call me", "{SN} took the dog out",
    "gonna see {SN} {reltime}", "{SN} knows", "ask {SN} or {SN}", "{SN} is in charge {reltime}",
    "my friend {SN} is coming", "{SN} says hi", "with love, {SN}", "- {SN}", "xoxo {SN}", "{SN} here, call me back",
]
# Hard negatives in the same styles: brands, apps, chain stores, medicines,
# relation words, landmarks, states and countries alone, relative dates, and
# given names used as ordinary words. No entity in any of them.
CHAT_NEGATIVES = [
    "order {ride} to the airport", "get me {ride} home", "play {app}", "open {app}", "play my liked songs on {app}",
    "ask {assistant} to turn off the lights", "{assistant} set a timer for {n} minutes", "is {store} open {reltime}",
    "find the nearest {store}", "directions to the closest {store}",
    "how late is {store} open", "reorder my usual on {app}", "cancel my {app} subscription",
    "check my {payapp} balance", "refill my {drug}", "remind me to take my {drug} at {clock}",
    "did i take my {drug} {reltime}", "my {drug} refill is ready", "order more {drug}", "set a daily reminder for {drug}",
    "tell {RELW} {msg}", "call {RELW}", "text {RELW} {msg}", "remind {RELW} to {task}", "pick up {RELW} at {clock}",
    "share my location with {RELW}", "{RELW} says hi", "facetime {RELW} {reltime}", "tour of {LANDMARK}",
    "tickets to {LANDMARK} {reltime}", "weather in {STATE} {reltime}", "flights to {COUNTRY} {reltime}",
    "driving through {STATE} {reltime}", "how far is {LANDMARK} from here", "best time to visit {COUNTRY}",
    "is {LANDMARK} open on sundays", "hotels near {LANDMARK}", "road trip across {STATE}", "remind me {reltime}",
    "set an alarm for {clock}", "what's on my calendar {reltime}", "move it to next {weekday}", "wake me up at {clock}",
    "remind me in a couple of days to {task}", "snooze for {n} minutes", "call 911", "call the pharmacy",
    "call my doctor's office", "turn up the volume", "what's the weather", "read my new messages",
    "how many steps did i take {reltime}", "lol same", "ok sounds good", "omg yes", "np", "ty", "lmk",
    "um yeah that's fine", "uh can you repeat that", "i will call you back", "will do", "will you be home {reltime}",
    "pay the water bill {reltime}", "split the bill", "bill me later", "may i ask something", "you may be right",
    "it may rain {reltime}", "the grace period is {h} days", "say grace before dinner",
    "we walked through the rose garden", "the roses are blooming", "mark it as read", "mark my words", "pat it dry",
    "to be frank i'm exhausted", "they drew blood at {clock}", "keep the faith", "hope you feel better",
    "jack up the car", "the x-ray came back clear", "max out the volume", "summer break starts {reltime}",
    "the amber alert woke me up", "it's sunny out", "the sky is clear tonight", "the river is high",
    "merge into the left lane", "the art show was fun", "the grant is due {reltime}", "security was lax today",
    "the rules are pretty lax here", "chase the dog out of the kitchen",
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


# ---- conversational families (issue #20): styles and mixing ---------------
def edit_outside(text: str, spans: list[list], edit: Callable[[str], str]) -> tuple[str, list[list]]:
    """Apply ``edit`` to every stretch of text outside the spans; the spans move with it."""
    out, new_spans, last = "", [], 0
    for start, end, label in sorted(spans):
        out += edit(text[last:start])
        new_spans.append([len(out), len(out) + end - start, label])
        out += text[start:end]
        last = end
    return out + edit(text[last:]), new_spans


_FOLD = str.maketrans("łŁøØđĐıæ", "lLoOdDia")


def fold_accents(text: str) -> str:
    """Drop diacritics one character at a time, as speech recognisers and phone keyboards write names."""
    def fold(c: str) -> str:
        bare = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
        return bare if len(bare) == 1 else c
    return "".join(fold(c) for c in text.translate(_FOLD))


def handle_part(name: str) -> str:
    """A name as it goes into a handle: ASCII letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", fold_accents(name).lower()) or "x"


def recase(text: str, mode: str) -> str:
    """``lower`` / ``upper`` / ``keep``, unless that would change the length (offsets must hold)."""
    styled = {"lower": text.lower, "upper": text.upper, "keep": lambda: text}[mode]()
    return styled if len(styled) == len(text) else text


def typed_style(text: str, spans: list[list], rng: random.Random) -> tuple[str, list[list]]:
    """Typed to an assistant: as written, or all lower case, sometimes without punctuation."""
    r = rng.random()
    if r < 0.5:
        return text, spans
    if r < 0.85:
        return recase(text, "lower"), spans
    text, spans = strip_punct(text, spans)
    return recase(text, "lower"), spans


def casual_style(text: str, spans: list[list], rng: random.Random) -> tuple[str, list[list]]:
    """SMS and social posts: lower case, no punctuation, typos, emoji, no accents."""
    if rng.random() < 0.5:
        text = fold_accents(text)
    if rng.random() < 0.5:
        text, spans = strip_punct(text, spans)
    if rng.random() < 0.3:
        text, spans = typo_noise(text, spans, rng, rate=0.06)
    if rng.random() < 0.2:
        emoji = rng.choice(EMOJI)
        text, spans = edit_outside(text, spans, lambda seg: seg.replace(" ", f" {emoji} ", 1) if rng.random() < 0.2 else seg)
    if rng.random() < 0.35:
        text += rng.choice(["", " "]) + rng.choice(EMOJI) * rng.choice([1, 1, 2, 3])
    mode = rng.choices(["lower", "keep", "upper"], [0.7, 0.25, 0.05])[0]
    return recase(text, mode), spans


def disfluent(segment: str, rng: random.Random, rate: float) -> str:
    """Speech between the entities: fillers ("uh", "um") and repeated short words ("i i").

    Only between two words of the segment: its first and last pieces may touch
    an entity ("smith's"), and nothing may be glued to one.
    """
    words = segment.split(" ")
    out: list[str] = []
    for i, word in enumerate(words):
        if i > 0 and word and rng.random() < rate:
            out.append(rng.choice(FILLERS))
        out.append(word)
        if i < len(words) - 1 and word in ("i", "the", "a", "my", "it's", "to", "is", "and") and rng.random() < rate:
            out.append(word)
    return " ".join(out)


def voice_style(text: str, spans: list[list], rng: random.Random) -> tuple[str, list[list]]:
    """A speech recogniser's transcript: no case, no punctuation, no accents, disfluencies."""
    text, spans = strip_punct(fold_accents(text), spans)
    rate = rng.choice([0.0, 0.05, 0.1, 0.15])
    text, spans = edit_outside(text, spans, lambda seg: disfluent(seg, rng, rate))
    return recase(text, "lower"), spans


Styler = Callable[[str, list[list], random.Random], tuple[str, list[list]]]


def family_example(gen: Generator, templates: Sequence[str], style: Styler, spoken: bool,
                   negatives: float = 0.2) -> dict:
    """One or two sentences of a family (a share of them CHAT_NEGATIVES), then the family's style."""
    rng = gen.rng
    text, spans = "", []
    for _ in range(rng.choice([1, 1, 1, 2])):
        pool = CHAT_NEGATIVES if rng.random() < negatives else templates
        part_text, part_spans = gen.render(rng.choice(pool), spoken)
        if text:
            text += rng.choice([" ", ". ", "\n", ", "])
        spans.extend([[s + len(text), e + len(text), lab] for s, e, lab in part_spans])
        text += part_text
    text, spans = style(text, spans, rng)
    return {"text": text, "spans": spans}


def typed_or_spoken(gen: Generator, templates: Sequence[str], spoken_share: float = 0.25) -> dict:
    """Assistant requests are typed or said; said ones have numbers in words and a transcript's style."""
    if gen.rng.random() < spoken_share:
        return family_example(gen, templates, voice_style, spoken=True)
    return family_example(gen, templates, typed_style, spoken=False)


def commands_example(gen: Generator) -> dict:
    return typed_or_spoken(gen, COMMANDS)


def travel_example(gen: Generator) -> dict:
    return typed_or_spoken(gen, TRAVEL)


def social_example(gen: Generator) -> dict:
    return family_example(gen, SOCIAL, casual_style, spoken=False)


def voice_example(gen: Generator) -> dict:
    return family_example(gen, VOICE, voice_style, spoken=True)


def directory_example(gen: Generator) -> dict:
    return family_example(gen, DIRECTORY, typed_style, spoken=False)


def single_example(gen: Generator) -> dict:
    style = casual_style if gen.rng.random() < 0.5 else typed_style
    return family_example(gen, SINGLE, style, spoken=False)


def negatives_example(gen: Generator) -> dict:
    style, spoken = gen.rng.choice([(typed_style, False), (casual_style, False), (voice_style, True)])
    return family_example(gen, CHAT_NEGATIVES, style, spoken, negatives=0.0)


# Families besides the nursing notes (``--notes``), and their default shares
# of the non-note examples (``--mix``).
FAMILIES: dict[str, Callable[[Generator], dict]] = {
    "prose": example, "commands": commands_example, "travel": travel_example, "social": social_example,
    "voice": voice_example, "directory": directory_example, "single": single_example,
    "negatives": negatives_example,
}
DEFAULT_MIX = {"prose": 0.40, "commands": 0.14, "travel": 0.08, "social": 0.10, "voice": 0.10,
               "directory": 0.05, "single": 0.06, "negatives": 0.07}


def parse_mix(value: str) -> dict[str, float]:
    """``"prose=0.5,commands=0.2"`` -> weights; families left out get none."""
    mix: dict[str, float] = {}
    for item in value.split(","):
        name, _, weight = item.partition("=")
        if name.strip() not in FAMILIES:
            raise argparse.ArgumentTypeError(f"unknown family {name.strip()!r} (one of {', '.join(FAMILIES)})")
        mix[name.strip()] = float(weight)
    if not mix or sum(mix.values()) <= 0 or min(mix.values()) < 0:
        raise argparse.ArgumentTypeError("--mix needs non-negative weights with a positive sum")
    return mix


def pick_family(gen: Generator, mix: dict[str, float]) -> Callable[[Generator], dict]:
    """A family by weight; a single family draws nothing (so ``--mix prose=1`` reproduces the old output)."""
    names = [n for n, w in mix.items() if w > 0]
    if len(names) == 1:
        return FAMILIES[names[0]]
    return FAMILIES[gen.rng.choices(names, [mix[n] for n in names])[0]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--notes", type=float, default=0.3, help="share of nursing-note examples")
    parser.add_argument("--mix", type=parse_mix, default=DEFAULT_MIX, metavar="FAMILY=W,...",
                        help="relative weights of the other families, " + ", ".join(FAMILIES)
                        + " (default: " + ",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items()) + ")")
    args = parser.parse_args(argv)
    gen = Generator(args.seed)
    with open(args.out, "w", encoding="utf-8") as fh:
        for _ in range(args.n):
            row = note_example(gen) if gen.rng.random() < args.notes else pick_family(gen, args.mix)(gen)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

