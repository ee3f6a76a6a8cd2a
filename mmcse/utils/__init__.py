"""Small utilities every layer uses: atomic file writes (files.py) and device choice (device.py)."""
