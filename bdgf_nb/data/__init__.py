"""Scenes in: the catalog and its readers, one module per kind of scene, leak-free splits, patches.

Nothing here knows about models. `load.load_scene(name)` reads a catalog entry (catalog.py)
through the module of its kind (synthetic.py, raster_scene.py, tiles.py, pixel_table.py; the
file kinds share stacking.py and readers.py) into a `Scene` (H, W grid) or `PixelScene` (pixel
table), validated (checks.py); `splits` decides which pixels train, validate and test;
`patches` cuts the (C, p, p) windows (and their guide windows) that every model reads.
"""
