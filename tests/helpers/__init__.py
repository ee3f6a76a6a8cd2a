"""Test helpers: tiny datasets and checkpoints for the app (app_fixture), the DDP worker script, splits."""
