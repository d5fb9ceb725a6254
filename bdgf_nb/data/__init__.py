"""Scenes in: the catalog and its readers, the synthetic scene, leak-free splits, patches.

Nothing here knows about models. A `Scene` (H, W grid) or `PixelScene` (pixel table) leaves this
package validated; `splits` decides which pixels train, validate and test; `patches` cuts the
(C, p, p) windows (and their guide windows) that every model reads.
"""
