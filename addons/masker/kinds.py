"""Entity kinds Masker detects, and the HIPAA Safe Harbor category of each.

45 CFR 164.514(b)(2)(i) lists 18 identifier categories, lettered A-R here.
CREDIT_CARD is PCI DSS scope rather than a Safe Harbor category.
"""

from __future__ import annotations

SAFE_HARBOR_CATEGORIES: dict[str, str] = {
    "A": "Names",
    "B": "Geographic subdivisions smaller than a state",
    "C": "Dates (except year) and ages over 89",
    "D": "Telephone numbers",
    "E": "Fax numbers",
    "F": "Email addresses",
    "G": "Social Security numbers",
    "H": "Medical record numbers",
    "I": "Health plan beneficiary numbers",
    "J": "Account numbers",
    "K": "Certificate/license numbers",
    "L": "Vehicle identifiers and serial numbers, including license plates",
    "M": "Device identifiers and serial numbers",
    "N": "Web URLs",
    "O": "IP addresses",
    "P": "Biometric identifiers",
    "Q": "Full-face photographs and comparable images",
    "R": "Any other unique identifying number, characteristic or code",
}

# kind -> Safe Harbor letter ("PCI" for card data)
KIND_CATEGORY: dict[str, str] = {
    "NAME": "A",
    "ADDRESS": "B",
    "ZIP": "B",
    "LOCATION": "B",
    "DOB": "C",
    "DATE": "C",
    "AGE": "C",
    "PHONE": "D",
    "FAX": "E",
    "EMAIL": "F",
    "SSN": "G",
    "MRN": "H",
    "HEALTH_PLAN": "I",
    "ACCOUNT": "J",
    "LICENSE": "K",
    "VEHICLE": "L",
    "VIN": "L",
    "DEVICE": "M",
    "URL": "N",
    "IP_ADDRESS": "O",
    "MAC_ADDRESS": "R",
    "ORGANIZATION": "R",
    "NPI": "R",
    "CREDIT_CARD": "PCI",
}

ALL_KINDS: frozenset[str] = frozenset(KIND_CATEGORY)

# Higher wins when two spans claim the same characters (see detect/merge.py).
# Checksummed and structurally specific kinds outrank generic ones.
SPECIFICITY: dict[str, int] = {
    "CREDIT_CARD": 90,
    "SSN": 90,
    "VIN": 88,
    "NPI": 86,
    "EMAIL": 85,
    "URL": 84,
    "IP_ADDRESS": 84,
    "MAC_ADDRESS": 84,
    "MRN": 80,
    "HEALTH_PLAN": 78,
    "LICENSE": 76,
    "ACCOUNT": 74,
    "FAX": 72,
    "PHONE": 70,
    "DOB": 68,
    "DEVICE": 66,
    "VEHICLE": 64,
    "ADDRESS": 60,
    "ZIP": 58,
    "DATE": 55,
    "AGE": 54,
    "NAME": 50,
    "ORGANIZATION": 45,
    "LOCATION": 40,
}
