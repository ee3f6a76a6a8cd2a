"""The embedded demo world: procedural clips for the 25 LLP classes (procedural.py with sprites.py,
sounds.py, draw.py), their hand-made features (features.py, DEMO_FEATURES) and the builder of a demo
dataset folder with trained checkpoints (build.py). Its LLP statistics are package data (llp_stats.json)."""
