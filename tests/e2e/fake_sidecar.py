"""Test-only sidecar entry: ``mitmdump -s tests/e2e/fake_sidecar.py`` runs
Masker's addon chain with ``fake_engine`` (injected failures).

The engine factory is a constructor argument, never a mitmproxy option
(options can be changed at run time with ``--set`` or mitmweb's options
editor), so a test that needs the fake engine starts this script instead of
``addons/masker_sidecar.py``. It lives under ``tests/`` and is never shipped.
"""

import fake_engine  # on PYTHONPATH (tests/e2e), as for the e2e fixtures

from masker.proxy.assembly import sidecar_addons

addons = sidecar_addons(engine_factory=fake_engine.build_engine)

if __name__ == "__main__":
    # ``python tests/e2e/fake_sidecar.py run ...``: ``masker run`` (the embedded
    # master, its production defaults) with the fake engine, for
    # scripts/bench_proxy.py --fake. The factory goes in through code.
    import functools
    import sys

    from masker import cli
    from masker.proxy import master

    master.sidecar_addons = functools.partial(sidecar_addons, engine_factory=fake_engine.build_engine)
    sys.exit(cli.main(sys.argv[1:]))
