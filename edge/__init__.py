"""What runs on a booth node: capture, pose, repair/smoothing, store-and-forward publishing.

Installs and runs without torch (the ``edge`` extra); never imports ``cloud``.
"""
