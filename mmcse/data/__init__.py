"""LLP annotations, dense rasterisation, feature stores, datasets."""
