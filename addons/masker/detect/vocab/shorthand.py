"""Clinical shorthand: abbreviations that are never a name, place or organisation alone.

Shared by the NER pass (which drops a NAME/ORGANIZATION/LOCATION span made
only of these) and the facility rule (a unit such as "CCU" after "transferred
to" is not an outside hospital).
"""

from __future__ import annotations

import re

# Clinical shorthand that is never a name, place or organisation on its own.
# Hand-written from general clinical-documentation knowledge (units, roles,
# orders, routes, labs, devices, common abbreviations); words that are also
# given names or surnames (Ed, Al, Pat, Di, Bo ...) or cities (DC, LA) are
# deliberately left out.
CLINICAL_SHORTHAND: frozenset[str] = frozenset("""
A&O A&OX3 AAO ABD ABG ABX AC ACE ADAT ADL ADLS AFEB AFIB AFVSS AKI ALS AM AMA AMB AMP AMPS AMT
ANC AOX3 APAP ARDS ARF ASA ASAP ATC AV AVR BAL BB BID BILAT BIPAP BKA BM BMP BMS BP BPM BRBPR
BS BSA BUN BX CA CABG CAD CATH CBC CC CCU CDIFF CHEM CHEST CHF CI CIWA CK CKD CM CMO CMV CN CO
CO2 COAG COPD CP CPAP CPK CPR CR CRI CRRT CSF CSRU CT CTA CV CVA CVL CVP CVVH CVVHD CX CXR D/C
D/W D5 D5W DBP DDAVP DERM DKA DM DNI DNR DOE DP DSG DVT DX ECG ECHO ECMO EEG EF EGD EKG ENT EOM
EPS ERCP ETOH ETT EW EXT FEM FFP FIO2 FS FSBS FU FX GCS GERD GI GIB GJ GOAL GTT GU GYN H/O H2O
HCO3 HCP HCT HD HGB HO HOB HR HS HTN HX IABP IBW ICD ICP ICU ID IJ IM IMV INR IO IR IS IV IVF
IVP JP JVD JVP K KCL KUB LAD LBBB LCX LE LFT LFTS LGIB LLE LLL LLQ LMA LOC LOS LP LR LS LTC LUE
LUL LUQ LV LVAD LVEF MAE MAP MCV MD MDI MEDS MG MGSO4 MI MICU MIVF MOM MRI MRSA MS MVR NA NAD
NBP NC NEB NEBS NEG NEURO NGT NICU NIF NKA NKDA NP NPO NRB NS NSR NSTEMI NT NTG NV OB OD OG OGT
OOB OP OR OSH OT PACU PAD PAP PAS PCA PCN PCP PCU PCWP PE PEEP PEG PERRL PERRLA PHOS PICC PLT
PM PMH PNA PO POD POS PPD PPI PR PRBC PRN PS PSV PSVT PT PTA PTCA PTT PVC PVCS PVD Q QD QHS QID
QOD RA RBBB RBC RCA RIJ RISS RLE RLL RLQ RN RO ROM ROS RR RRR RSBI RT RUE RUL RUQ RV RX SBP SBT
SC SCD SCDS SEM SICU SIMV SL SLP SNF SOB SP SPO2 SQ SR SS SSI STAT STEMI SVR SVT SW SX TB TBI
TCU TECH TEE TF TFS TID TKO TLC TMAX TPN TRACH TSICU TTE TV TX UA UE UGIB UO UOP URI USOH UTI
VAP VAT VBG VENT VF VNA VQ VRE VS VSS VT WBC WNL XR YO
""".split())
_WORD = re.compile(r"[A-Za-z0-9&]+(?:/[A-Za-z0-9&]+)?")


def is_shorthand(value: str) -> bool:
    """True when every word of ``value`` is clinical shorthand written in one case.

    "MAE", "pt", "PT/OT", "NSR" qualify; title case ("Ed", "Mae") never does,
    so a capitalised name that happens to spell an abbreviation is kept.
    """
    words = _WORD.findall(value)
    return bool(words) and all(
        (word.isupper() or word.islower())
        and (word.upper() in CLINICAL_SHORTHAND
             or all(part.upper() in CLINICAL_SHORTHAND for part in word.split("/")))
        for word in words
    )
