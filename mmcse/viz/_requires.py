"""mmcse.viz draws with the viz extra (plotly, matplotlib): without it, one line naming what to install."""

import importlib.util

MISSING = [name for name in ("plotly", "matplotlib") if importlib.util.find_spec(name) is None]
if MISSING:
    raise ModuleNotFoundError(
        f"mmcse.viz needs {' and '.join(MISSING)}, which {'is' if len(MISSING) == 1 else 'are'} not installed: "
        "pip install -e .[viz] (or .[app] for the app)"
    )
