"""Masker as a mitmproxy script: ``mitmdump -s addons/masker_sidecar.py`` (or ``mitmweb -s``).

Options: ``--set masker_policy=... --set masker_data_dir=...`` (see
``masker.proxy.options``). Production should prefer ``masker run``, which
embeds mitmproxy: a live-reloaded broken script would leave mitmdump running
without Masker.
"""

from masker.proxy.assembly import sidecar_addons

addons = sidecar_addons()
