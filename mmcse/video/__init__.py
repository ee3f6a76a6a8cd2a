"""Video I/O, offline feature extraction, procedural demo clips."""
