"""Any other JSON endpoint of an intercepted host: every string leaf, number
and object key is scanned (``masker.providers.walk``). Only what every shape
shares is exempt (model names, chat roles, provider ids, generation
parameters); ids are otherwise scanned like any string (an unknown API's
``patient_id`` may well be PHI). A ``data:`` URL carrying base64 (an inline
image, audio or file) follows the media switch.
"""

from __future__ import annotations

from masker.providers.walk import COMMON_EXEMPT, COMMON_FIELDS, Shape

SHAPE = Shape("generic", exempt=COMMON_EXEMPT, fields=COMMON_FIELDS)
